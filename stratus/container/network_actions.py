"""What the container API does to a container's networks: attach and detach networks,
list them, and add or remove security groups (mixed into :class:`~stratus.container.
service.ContainerService`, whose records and agents it uses).

Attach and detach change the container's recorded ports first (the desired state) and
then tell its agent, which plugs or unplugs them; a detached port is freed at once.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy.orm import Session

from stratus.container import actions
from stratus.container.models import Container
from stratus.container.networking import Networking, Plan, addresses, agent_port
from stratus.container.schemas import Net
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.db import Database


class NetworkActions:
    db: Database
    networking: Networking

    # Provided by the service: the container if its network may change now, its row
    # (policy checked), and a cast to its agent.
    def _networked(
        self, session: Session, ctx: RequestContext, ident: str, action: str
    ) -> Container:
        raise NotImplementedError

    def get(self, ctx: RequestContext, ident: str) -> Container:
        raise NotImplementedError

    def _cast(self, row: Container, method: str, **kwargs: Any) -> None:
        raise NotImplementedError

    def network_attach(
        self, ctx: RequestContext, ident: str, network: str | None, port: str | None, ip: str | None
    ) -> None:
        """One more port for the container: on ``network`` (with the fixed ``ip``, and the
        container's security groups) or the given ``port``; made here, plugged by the agent."""
        net = _attach_request(network, port, ip)
        with self.db.session() as session:
            row = self._networked(session, ctx, ident, "network_attach")
            uuid, groups = row.uuid, list(row.security_groups)
            taken = [entry["network_id"] for entry in row.nets]
        plan = self.networking.plan(ctx, [net], [], default=False, taken=taken)
        if plan.group_ids and groups:
            plan = Plan(plan.wanted, groups)
        held = self.networking.allocate(ctx, uuid, plan)
        try:
            with self.db.session() as session:
                row = self._networked(session, ctx, uuid, "network_attach")
                row.nets = [*row.nets, *held]
                row.addresses = addresses(row.nets)
                row.security_groups = row.security_groups or plan.group_ids
                actions.record(session, ctx, uuid, "network_attach")
                container = row
        except Exception:
            self.networking.free(held)
            raise
        for entry in held:
            self._cast(container, "network_attach", uuid=uuid, port=agent_port(entry))

    def network_detach(
        self, ctx: RequestContext, ident: str, network: str | None, port: str | None
    ) -> None:
        """The container's port (or its port on ``network``) is unplugged by the agent and
        freed: deleted if the API made it, let go if it was given."""
        if bool(network) == bool(port):
            raise BadRequest("Name either the network or the port to detach.")
        with self.db.session() as session:
            row = self._networked(session, ctx, ident, "network_detach")
            uuid, nets = row.uuid, list(row.nets)
        gone = self._held(ctx, uuid, nets, "port" if port else "network", port or network or "")
        with self.db.session() as session:
            row = self._networked(session, ctx, uuid, "network_detach")
            row.nets = [entry for entry in row.nets if entry not in gone]
            row.addresses = addresses(row.nets)
            actions.record(session, ctx, uuid, "network_detach")
            container = row
        for entry in gone:
            self._cast(container, "network_detach", uuid=uuid, port_id=entry["port_id"])
        self.networking.free(gone)

    def network_list(self, ctx: RequestContext, ident: str) -> list[dict[str, Any]]:
        return list(self.get(ctx, ident).nets)

    def add_security_group(self, ctx: RequestContext, ident: str, ref: str) -> None:
        self._regroup(ctx, ident, ref, add=True)

    def remove_security_group(self, ctx: RequestContext, ident: str, ref: str) -> None:
        self._regroup(ctx, ident, ref, add=False)

    def _regroup(self, ctx: RequestContext, ident: str, ref: str, add: bool) -> None:
        """Put the security group on (or take it off) every port of the container."""
        action = "add_security_group" if add else "remove_security_group"
        with self.db.session() as session:
            row = self._networked(session, ctx, ident, action)
            uuid, nets, groups = row.uuid, list(row.nets), list(row.security_groups)
        if not nets:
            raise BadRequest(f"Container {uuid} has no port for security groups.")
        [group_id] = self.networking.group_ids(ctx, [ref])
        if add == (group_id in groups):
            raise BadRequest(
                f"Security group {ref} is {'already' if add else 'not'} on container {uuid}."
            )

        def change(ids: list[str]) -> list[str]:
            if add:
                return ids if group_id in ids else [*ids, group_id]
            return [i for i in ids if i != group_id]

        self.networking.regroup(ctx, nets, change)
        with self.db.session() as session:
            row = session.get(Container, uuid)
            if row is not None:
                row.security_groups = change(list(row.security_groups))

    def _held(
        self, ctx: RequestContext, uuid: str, nets: list[dict[str, Any]], kind: str, ref: str
    ) -> list[dict[str, Any]]:
        """The container's ports that are ``ref`` (a port), or on ``ref`` (a network)."""
        key = f"{kind}_id"
        held = [entry for entry in nets if entry[key] == ref]
        if not held:
            found = self.networking.lookup(ctx, kind, ref)["id"]
            held = [entry for entry in nets if entry[key] == found]
        if not held:
            where = f"port {ref}" if kind == "port" else f"port on network {ref}"
            raise NotFound(f"Container {uuid} has no {where}.")
        return held


def _attach_request(network: str | None, port: str | None, ip: str | None) -> Net:
    """network_attach's query (``fixed_ip`` of either version) as a nets entry."""
    if ip is None:
        return Net(network=network, port=port)
    try:
        version = ipaddress.ip_address(ip).version
    except ValueError as exc:
        raise BadRequest(f"fixed_ip {ip!r} is not an IP address.") from exc
    return Net(network=network, port=port, **{f"v{version}_fixed_ip": ip})
