"""The messages between the container API and the agents.

The API casts work to the agent of a container's host (topic ``container-agent``) and
calls it for what it must answer at once (logs, top, stats). Agents never touch the
database: they report their host and their containers' states to the API's
``container-conductor`` topic, whose endpoint (:class:`Conductor`) records them.

Networks. The API makes (or takes) every port a container holds before the agent hears of
it: device owner ``compute:kuryr``, device id the container's (or capsule's) uuid, bound
to no host. The agent is given each port as ``{"port_id", "network_id", "mac_address",
"fixed_ips": [{"subnet_id", "ip_address"}]}``:

- ``create(container=spec)``: the spec's ``ports`` are plugged (none: network ``none``);
  a capsule's containers all list the capsule's ports, which its sandbox takes when the
  first is made. At most one port per network, and each needs an IPv4 address: the
  container holds the port's first one (IPv6 addresses are not configured in it).
- ``network_attach(uuid, port)``: one more port, for a container made, running or
  stopped (also one made with no ports); ``network_detach(uuid, port_id)``: unplug it,
  found by the port id even if the port is gone already, nothing if it is not plugged.
  A failure of either is reported as the container's reason (its status unchanged).
- A stopped container's ports are unbound (binding:host_id ``""``) and bound again when
  it starts; ``delete`` leaves no veth. The agent and the network plugin never delete a
  port the API made, nor change its device id or owner: freeing it is the API's.
- A create whose container cannot be made or started is reported as ``Error`` once the
  engine holds nothing of it.
- Inside the container the ports are ``eth0``, ``eth1``... in the order Docker joins
  their networks, with the port's MAC, address, prefix and its subnet's gateway.

Mounts. The spec's ``mounts`` are the container's own: each ``volume`` is a new local volume
on its host, made with the container and named from its uuid and the mount's index,
kept while the container's record is (stopped, restarted, the agent restarted) and removed
by ``delete``; an agent's reconciliation removes the volumes of its host that belong to no
container a record wants. A ``bind`` is a file written at its destination before the
container first starts. Block-storage volumes are not mounted yet (no volume service).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from stratus.container import actions, consoles, states
from stratus.container.models import Capsule, Container, Host
from stratus.container.networking import Networking, agent_port
from stratus.runtime.bus import Bus
from stratus.runtime.db import Database, new_id, utcnow

AGENT_TOPIC = "container-agent"
CONDUCTOR_TOPIC = "container-conductor"

# What the agent needs to make a container (the rest of the row is the API's business).
SPEC_FIELDS = (
    "uuid",
    "image",
    "image_driver",
    "image_id",
    "command",
    "entrypoint",
    "cpu",
    "memory",
    "environment",
    "labels",
    "workdir",
    "hostname",
    "restart_policy",
    "interactive",
    "tty",
    "auto_remove",
    "capsule_id",  # a capsule's containers share its sandbox's network namespace
    # Its mounts: [{"type": "volume", "destination", "size"}]: a new local volume of size
    # GiB, kept for the container's life; [{"type": "bind", "destination", "source"}]: a
    # file whose base64 content is source, put at destination before the container starts.
    "mounts",
    # The ports the API made or took for it, to plug: [{"port_id", "network_id",
    # "mac_address", "fixed_ips": [{"subnet_id", "ip_address"}]}]; empty: no network.
    # A capsule's containers all list the capsule's one port.
    "ports",
)


def spec(container: Container) -> dict[str, Any]:
    fields = {f: getattr(container, f) for f in SPEC_FIELDS if f not in ("mounts", "ports")}
    ports = [agent_port(entry) for entry in container.nets or []]
    return {**fields, "mounts": container.mounts or [], "ports": ports}


class AgentClient:
    """The API's side of the agent topic."""

    def __init__(self, bus: Bus, timeout: float = 60.0) -> None:
        self.bus = bus
        self.timeout = timeout

    def cast(self, host: str, method: str, **kwargs: Any) -> None:
        self.bus.cast(AGENT_TOPIC, method, host=host, **kwargs)

    def call(self, host: str, method: str, **kwargs: Any) -> Any:
        return self.bus.call(AGENT_TOPIC, method, host=host, timeout=self.timeout, **kwargs)


class Conductor:
    """Records what agents report (served by the API part on ``container-conductor``),
    and frees the ports of a container that is gone or whose create failed."""

    def __init__(self, db: Database, networking: Networking | None = None) -> None:
        self.db = db
        self.networking = networking

    def report_host(
        self,
        hostname: str,
        zone: str,
        cpus: int,
        memory_mb: int,
        driver_status: str | None,
        console_url: str | None = None,
    ) -> None:
        """The agent is alive; ``driver_status`` is why Docker cannot be used, or None."""
        with self.db.session() as session:
            row = session.get(Host, hostname)
            if row is None:
                row = Host(hostname=hostname, uuid=new_id(), generation=0, report_count=0)
                session.add(row)
            row.availability_zone = zone
            row.cpus = cpus
            row.memory_mb = memory_mb
            row.driver_status = driver_status
            row.console_url = console_url
            row.report_count += 1
            row.last_seen_up = utcnow()

    def report_state(
        self,
        uuid: str,
        status: str,
        reason: str | None = None,
        detail: str | None = None,
        addresses: dict[str, Any] | None = None,
        done: bool = True,
    ) -> None:
        """A container's state as its agent sees it; a deleting container stays so. A
        create that failed (Creating to Error) frees the container's ports at once: the
        agent reports that only when its engine holds nothing of the container, and never
        makes it again. A capsule's port stays until the capsule goes. Not ``done``: an
        engine event in the middle of an action, whose task state and events go on."""
        if status == states.ERROR:
            self._free_failed_create(uuid)
        with self.db.session() as session:
            row = session.get(Container, uuid)
            if row is None or row.status == states.DELETING:
                return
            row.status = status
            row.status_reason = reason
            row.status_detail = detail
            if addresses is not None:
                row.addresses = addresses
            if done:
                row.task_state = None
                actions.finish(session, uuid, status, reason)

    def _free_failed_create(self, uuid: str) -> None:
        with self.db.session() as session:
            row = session.get(Container, uuid)
            if row is None or row.status != states.CREATING or row.capsule_id or not row.nets:
                return
            nets = list(row.nets)
        self._free(nets)
        with self.db.session() as session:
            row = session.get(Container, uuid)
            if row is not None:
                row.nets, row.addresses, row.security_groups = [], {}, []

    def report_deleted(self, uuid: str) -> None:
        """The container is gone: its ports are freed, then its record goes. A capsule's
        one port is freed when its last container is gone, before the capsule's record."""
        with self.db.session() as session:
            row = session.get(Container, uuid)
            own = list(row.nets or []) if row is not None and not row.capsule_id else []
        self._free(own)
        with self.db.session() as session:
            actions.forget(session, uuid)
            consoles.forget(session, uuid)
            row = session.get(Container, uuid)
            capsule_id = row.capsule_id if row is not None else None
            capsule_nets = list(row.nets or []) if row is not None else []
            session.execute(sa.delete(Container).where(Container.uuid == uuid))
        if capsule_id:
            self._end_capsule_if_empty(capsule_id, capsule_nets)

    def _end_capsule_if_empty(self, capsule_id: str, nets: list[dict[str, Any]]) -> None:
        """Free the capsule's port and remove it if none of its containers is left. Asked
        in a transaction of its own, after the member's removal committed: of members
        reported gone at once (each transaction seeing the other's member still there),
        the last to commit sees none left; two may both see none, and free it twice (the
        second finds the port gone)."""
        with self.db.session() as session:
            left = sa.select(Container.uuid).where(Container.capsule_id == capsule_id)
            if session.execute(left.limit(1)).first() is not None:
                return
        self._free(nets)
        with self.db.session() as session:
            session.execute(sa.delete(Capsule).where(Capsule.uuid == capsule_id))

    def _free(self, nets: list[dict[str, Any]]) -> None:
        if nets and self.networking is not None:
            self.networking.free(nets)

    def claim_console(self, token: str, hostname: str) -> dict[str, Any] | None:
        """What the websocket proxy of ``hostname`` may open for ``token`` (once)."""
        with self.db.session() as session:
            return consoles.claim(session, token, hostname)

    def host_containers(self, hostname: str) -> list[dict[str, Any]]:
        """What the agent of ``hostname`` should run: each container's spec and state."""
        with self.db.session() as session:
            rows = session.scalars(sa.select(Container).where(Container.host == hostname))
            return [
                {
                    **spec(row),
                    "status": row.status,
                    "status_detail": row.status_detail,
                    "start_requested": row.start_requested,
                }
                for row in rows
            ]
