"""A container's ports in the network service (Zun's ``nets``, Kuryr's ports).

The API makes every port a container gets before its agent hears of the container: it
checks what the caller asks for with the caller's token (a network or port the caller
cannot see does not exist for it), then creates the ports as the caller, so that the
network service's policy and port quota are the caller's, with device owner
``compute:kuryr`` and the container's (or capsule's) uuid as device id. The agent plugs
what the spec's ``ports`` lists. A container's row records what it holds, in ``nets``::

    [{"port_id", "network_id", "mac_address",
      "fixed_ips": [{"subnet_id", "ip_address"}], "preserve_on_delete"}]

``preserve_on_delete`` marks a port the user gave: freeing the container unbinds it and
deletes the ports the API made. Freeing runs as the container service, since no caller
is at hand when an agent reports a container gone. A port the network service fails to
free (it is down, or answers 5xx) is recorded in ``container_unfreed_ports`` and freed
again every UNFREED_INTERVAL seconds by the API until it answers: a container's ports
never outlive it for good. Nor do the ports made for a container that never was: an API
that stops between making ports and recording them in a container's ``nets`` (a create,
a network attach) leaves ports no container holds; the same round deletes those once
they are ORPHAN_AGE seconds old. Only ports carrying the tag ``MADE_TAG`` (every port
the API makes) are looked at: a server's port in an availability zone named ``kuryr``
has the same device owner. A container has at most one port
per network (a Docker network per network service network), with an IPv4 address: a
network needs an IPv4 subnet, a given port an IPv4 address, and a port asked for with an
IPv6 address alone gets one from the network's first IPv4 subnet as well.

Security groups go on the ports the API makes: the ones asked for, else the project's
``default``. A port the user gives keeps its own groups until the container's groups are
changed (add/remove security group change every port of the container).

Without ``nets`` a container gets its project's default network: the project's oldest
network that is not external and has an IPv4 subnet (Zun's choice); failing that, the one
shared network with an IPv4 subnet if there is exactly one. With several shared networks and
none of its own, the caller must name one (409). With none at all, or on a cloud without
a network service, the container runs with no network (Zun answered 409 there; here a
container needs no network to run).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from stratus.container.models import Container, UnfreedPort
from stratus.container.schemas import Net
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    error_for_status,
)
from stratus.runtime.clients.catalog import ServiceNotInCatalog
from stratus.runtime.clients.network import NetworkApi, NetworkError
from stratus.runtime.db import Database

LOG = logging.getLogger(__name__)
UNFREED_INTERVAL = 60.0  # seconds between tries at the ports the network service failed to free
ORPHAN_AGE = 600.0  # seconds a port of ours may name no container (a create holds it moments)
MADE_TAG = "made-for-container"  # on the ports the API makes (deleted when freed)

DEVICE_OWNER = "compute:kuryr"
DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class Wanted:
    """A port to make on ``network_id`` (with the network service's ``fixed_ips``
    entries), or the user's ``port``."""

    network_id: str
    fixed_ips: tuple[dict[str, str], ...] = ()
    port: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """What a create or an attach will hold, checked; ``group_ids`` go on made ports."""

    wanted: list[Wanted]
    group_ids: list[str]


class Networking:
    def __init__(self, api: NetworkApi, db: Database | None = None) -> None:
        self.api = api
        self.db = db  # where ports that could not be freed wait (without it: logged)

    # -- checks, as the caller --------------------------------------------------------------

    def plan(
        self,
        ctx: RequestContext,
        nets: Sequence[Net],
        groups: Sequence[str],
        default: bool = True,
        taken: Sequence[str] = (),
    ) -> Plan:
        """The ports ``nets`` ask for (the default network if none and ``default``),
        next to the networks ``taken`` already; nothing is changed yet."""
        try:
            if nets:
                wanted = [self._wanted(ctx, net) for net in nets]
            else:
                wanted = self._default(ctx) if default else []
            _one_port_per_network(taken, [w.network_id for w in wanted])
            making = any(w.port is None for w in wanted)
            if groups and not making:
                raise BadRequest(
                    "Security groups go on the ports the container service makes, and this "
                    "request makes none (no network, or only given ports, which keep theirs)."
                )
            group_ids = self.group_ids(ctx, list(groups) or [DEFAULT_GROUP]) if making else []
            return Plan(wanted, group_ids)
        except ServiceNotInCatalog as exc:
            if nets or groups:
                raise BadRequest(
                    "This cloud has no network service: nets and security groups cannot be "
                    "asked for."
                ) from exc
            return Plan([], [])

    def find_network(self, ctx: RequestContext, ref: str) -> tuple[dict[str, Any], list[str]]:
        """A network the caller may put a container on, by id or name, and its IPv4
        subnets (a container needs an IPv4 address)."""
        network = self.lookup(ctx, "network", ref)
        if network.get("router:external") and not network.get("shared") and not ctx.is_admin:
            raise Forbidden(
                f"Network {ref} is external: only an administrator may attach a container to it."
            )
        if not network.get("subnets"):
            raise BadRequest(f"Network {ref} has no subnet, so a container on it gets no address.")
        v4 = self.api.list_subnets(ctx.token, network_id=network["id"], ip_version=4)
        if not v4:
            raise BadRequest(
                f"Network {ref} has no IPv4 subnet: a container needs an IPv4 address."
            )
        return network, [subnet["id"] for subnet in v4]

    def find_port(self, ctx: RequestContext, ref: str) -> dict[str, Any]:
        return self.lookup(ctx, "port", ref)

    def group_ids(self, ctx: RequestContext, refs: Sequence[str]) -> list[str]:
        """The ids of the caller's project's security groups named (or identified) so."""
        groups = self.api.security_groups(ctx.project_id or "", ctx.token)
        ids: list[str] = []
        for ref in refs:
            matches = [g["id"] for g in groups if ref in (g["id"], g["name"])]
            if not matches:
                raise BadRequest(f"Security group {ref} could not be found.")
            if len(matches) > 1:
                raise Conflict(f"Multiple security groups are named {ref}; use its id.")
            if matches[0] not in ids:
                ids.append(matches[0])
        return ids

    def _wanted(self, ctx: RequestContext, net: Net) -> Wanted:
        if bool(net.network) == bool(net.port):
            raise BadRequest("Each nets entry names either a network or a port.")
        if net.port:
            if net.v4_fixed_ip or net.v6_fixed_ip:
                raise BadRequest(
                    f"Port {net.port} brings its own addresses: a fixed IP goes with a network."
                )
            port = self._usable_port(ctx, net.port)
            return Wanted(port["network_id"], port=port)
        assert net.network is not None
        network, v4_subnets = self.find_network(ctx, net.network)
        v4, v6 = _address(net.v4_fixed_ip, 4), _address(net.v6_fixed_ip, 6)
        fixed: list[dict[str, str]] = [{"ip_address": ip} for ip in (v4, v6) if ip]
        if v6 and not v4:  # an IPv6 address alone would leave the container no IPv4 one
            fixed.append({"subnet_id": v4_subnets[0]})
        return Wanted(network["id"], tuple(fixed))

    def _usable_port(self, ctx: RequestContext, ref: str) -> dict[str, Any]:
        port = self.find_port(ctx, ref)
        if port.get("project_id") != ctx.project_id:
            raise BadRequest(f"Port {ref} belongs to another project.")
        if port.get("device_id") or port.get("device_owner"):
            raise Conflict(f"Port {ref} is in use by {port.get('device_id') or 'a device'}.")
        if not any(_version(ip["ip_address"]) == 4 for ip in port.get("fixed_ips") or []):
            raise BadRequest(f"Port {ref} has no IPv4 address, which a container needs.")
        return port

    def _default(self, ctx: RequestContext) -> list[Wanted]:
        listed = self.api.list_networks(ctx.token, sort_key="created_at", sort_dir="asc")
        with_v4 = {s["network_id"] for s in self.api.list_subnets(ctx.token, ip_version=4)}
        usable = [n for n in listed if n["id"] in with_v4 and not n.get("router:external")]
        own = [n for n in usable if n.get("project_id") == ctx.project_id]
        if own:  # the oldest (the service sorts by its precise creation times)
            return [Wanted(own[0]["id"])]
        shared = [n for n in usable if n.get("shared")]
        if len(shared) > 1:
            raise Conflict(
                "The project has no network of its own and several shared networks could "
                "take the container; name one in nets (--net network=<id>)."
            )
        return [Wanted(shared[0]["id"])] if shared else []

    def lookup(self, ctx: RequestContext, kind: str, ref: str) -> dict[str, Any]:
        """The ``network`` or ``port`` the caller sees by id, else by its unique name."""
        show = self.api.show_network if kind == "network" else self.api.show_port
        found = show(ref, ctx.token)
        if found is not None:
            return found
        lister = self.api.list_networks if kind == "network" else self.api.list_ports
        matches = lister(ctx.token, name=ref)
        if not matches:
            raise NotFound(f"{kind.capitalize()} {ref} could not be found.")
        if len(matches) > 1:
            raise Conflict(f"Multiple {kind}s are named {ref}; use the {kind} id.")
        return matches[0]

    # -- changes ----------------------------------------------------------------------------

    def allocate(self, ctx: RequestContext, device_id: str, plan: Plan) -> list[dict[str, Any]]:
        """Make (or take) the planned ports for ``device_id``: all of them, or none and a
        4xx saying what the network service refused."""
        held: list[dict[str, Any]] = []
        try:
            for wanted in plan.wanted:
                owner = {"device_id": device_id, "device_owner": DEVICE_OWNER}
                if wanted.port is not None:
                    port_id = wanted.port["id"]
                    port = self.api.update_port(port_id, owner, ctx.token, what="take")
                else:
                    fields = {
                        "network_id": wanted.network_id,
                        "security_groups": plan.group_ids,
                        "tags": [MADE_TAG],
                        **owner,
                    }
                    if wanted.fixed_ips:
                        fields["fixed_ips"] = list(wanted.fixed_ips)
                    port = self.api.new_port(fields, ctx.token)
                held.append(record(port, preserve=wanted.port is not None))
        except Exception as exc:
            self.free(held)
            if isinstance(exc, NetworkError):
                raise refused(exc) from exc
            raise
        return held

    def free(self, nets: Sequence[dict[str, Any]]) -> None:
        """Delete the ports the API made and let go of the given ones (as the service).
        One the network service failed on (a 5xx, or no answer) waits to be freed again;
        one it refused is logged and left."""
        failed = [entry for entry in nets if not self._free_one(entry["port_id"], _given(entry))]
        if failed and self.db is not None:
            with self.db.session() as session:
                for entry in failed:
                    session.merge(UnfreedPort(port_id=entry["port_id"], preserve=_given(entry)))

    def free_leftovers(self) -> None:
        """What the API does every UNFREED_INTERVAL seconds: free what it failed to free,
        then the ports it made for containers that were never recorded."""
        self.free_unfreed()
        self.free_orphans()

    def free_orphans(self, age: float = ORPHAN_AGE) -> None:
        """Delete the ports the API made that no container holds and that did not change
        for ``age`` seconds: an API stopped between making them and recording them."""
        if self.db is None:
            return
        try:
            ours = self.api.list_ports(None, device_owner=DEVICE_OWNER, tags=MADE_TAG)
        except ServiceNotInCatalog:
            return  # a cloud without a network service: no ports
        except Exception as exc:
            LOG.warning("ports left by unrecorded containers cannot be looked for yet: %s", exc)
            return
        with self.db.session() as session:
            waiting = set(session.scalars(sa.select(UnfreedPort.port_id)))  # freed apart
        settled = datetime.now(UTC) - timedelta(seconds=age)  # younger: perhaps in flight
        old = [
            port
            for port in ours
            if port["id"] not in waiting and datetime.fromisoformat(port["updated_at"]) <= settled
        ]
        held = self._held(old)
        for port in old:
            if port["id"] in held:
                continue
            LOG.warning(
                "freeing port %s of %s, which no container holds",
                port["id"],
                port.get("device_id"),
            )
            self._free_one(port["id"], preserve=False)

    def free_unfreed(self) -> None:
        """Try again at the ports the network service failed to free."""
        if self.db is None:
            return
        with self.db.session() as session:
            waiting = session.scalars(sa.select(UnfreedPort)).all()
        done = [row.port_id for row in waiting if self._free_again(row)]
        if done:
            with self.db.session() as session:
                session.execute(sa.delete(UnfreedPort).where(UnfreedPort.port_id.in_(done)))

    def _free_again(self, row: UnfreedPort) -> bool:
        """Free a recorded port (True when done). A given port is let go only if nothing
        took it since (its user may have unbound it meanwhile and given it to a container
        again, or to a server), and only if it did not change since it was read."""
        if not row.preserve:
            return self._free_one(row.port_id, preserve=False)
        try:
            port = self.api.show_port(row.port_id)
        except Exception as exc:
            LOG.warning("port %s could not be freed yet: %s", row.port_id, exc)
            return False
        if port is None or port.get("device_owner") != DEVICE_OWNER or self._held([port]):
            return True
        return self._free_one(row.port_id, preserve=True, revision=port.get("revision_number"))

    def _held(self, ports: Sequence[dict[str, Any]]) -> set[str]:
        """The ids of those ``ports`` that a container of this service holds now: the
        port's device (a container, or a capsule's members) lists it in its ``nets``."""
        assert self.db is not None
        if not ports:
            return set()
        devices = {port.get("device_id") or "" for port in ports}
        holders = sa.select(Container.nets).where(
            sa.or_(Container.uuid.in_(devices), Container.capsule_id.in_(devices))
        )
        with self.db.session() as session:
            listed = {entry["port_id"] for nets in session.scalars(holders) for entry in nets or []}
        return {port["id"] for port in ports} & listed

    def _free_one(self, port_id: str, preserve: bool, revision: int | None = None) -> bool:
        """Free one port (unbinding a given one only at ``revision``, when given): False
        if the network service failed, or the port changed since, and it may be done later."""
        try:
            if preserve:
                self.api.unbind_port(port_id, revision)
            else:
                self.api.delete_port(port_id)
        except Exception as exc:
            if isinstance(exc, NetworkError) and exc.status < 500 and exc.status != 412:
                LOG.warning("port %s could not be freed: %s", port_id, exc)
                return True
            LOG.warning("port %s could not be freed yet: %s", port_id, exc)
            return False
        return True

    def regroup(
        self,
        ctx: RequestContext,
        nets: Sequence[dict[str, Any]],
        change: Callable[[list[str]], list[str]],
    ) -> None:
        """Change the security groups of every port (as the caller); all or none."""
        done: list[tuple[str, list[str]]] = []
        try:
            for entry in nets:
                port = self.api.show_port(entry["port_id"], ctx.token)
                if port is None:
                    continue
                before = list(port.get("security_groups") or [])
                after = change(before)
                if after != before:
                    fields = {"security_groups": after}
                    what = "change the security groups of"
                    self.api.update_port(entry["port_id"], fields, ctx.token, what=what)
                    done.append((entry["port_id"], before))
        except NetworkError as exc:
            for port_id, before in done:
                with suppress(Exception):
                    self.api.update_port(port_id, {"security_groups": before}, ctx.token)
            raise refused(exc) from exc


def record(port: dict[str, Any], preserve: bool) -> dict[str, Any]:
    """What a container's ``nets`` keeps of one port."""
    return {
        "port_id": port["id"],
        "network_id": port["network_id"],
        "mac_address": port.get("mac_address"),
        "fixed_ips": [
            {"subnet_id": ip.get("subnet_id"), "ip_address": ip["ip_address"]}
            for ip in port.get("fixed_ips") or []
        ],
        "preserve_on_delete": preserve,
    }


def agent_port(entry: dict[str, Any]) -> dict[str, Any]:
    """One port as the agent plugs it (the spec's ``ports``, ``network_attach``)."""
    return {key: entry[key] for key in ("port_id", "network_id", "mac_address", "fixed_ips")}


def addresses(nets: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Zun's ``addresses``: each network's addresses, by network id."""
    shown: dict[str, list[dict[str, Any]]] = {}
    for entry in nets:
        for ip in entry["fixed_ips"]:
            shown.setdefault(entry["network_id"], []).append(
                {
                    "addr": ip["ip_address"],
                    "version": _version(ip["ip_address"]),
                    "port": entry["port_id"],
                    "subnet_id": ip["subnet_id"],
                    "preserve_on_delete": entry["preserve_on_delete"],
                }
            )
    return shown


def refused(exc: NetworkError) -> ApiError:
    """What the network service refused, with its status (a quota is a 409 or 403)."""
    if 400 <= exc.status < 500:
        return error_for_status(exc.status, str(exc))
    return ServiceUnavailable(str(exc))


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def _address(value: str | None, version: int) -> str | None:
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise BadRequest(f"v{version}-fixed-ip {value!r} is not an IPv{version} address.")
    return str(address)


def _one_port_per_network(taken: Sequence[str], wanted: Sequence[str]) -> None:
    seen = set(taken)
    for network_id in wanted:
        if network_id in taken:
            raise Conflict(f"The container already has a port on network {network_id}.")
        if network_id in seen:
            raise BadRequest(
                f"Network {network_id} is asked for twice: a container has one port per network."
            )
        seen.add(network_id)


def _given(entry: dict[str, Any]) -> bool:
    return bool(entry.get("preserve_on_delete"))
