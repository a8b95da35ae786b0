"""What a server create asks of the network service, checked with the caller's token and
turned into what the agent will make: ``[{"network_id", "network", "fixed_ip"} |
{"port_id"}]`` and the security groups' ids (none for the default group alone).
``network`` is the network's name and MTU as seen now (``{"name", "mtu"}``), so that the
agent need not read the network again.

``none`` asks for no ports. ``auto`` takes the one network the project can use (its own
or a shared one), or the network service's automatically allocated one when there is
none; a cloud without a network service has nothing to allocate, so ``auto`` is
``none`` there. Without ``networks`` (before 2.37) a server gets every network the
project can use, as Nova did.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from stratus.compute.clients.network import NetworkClient
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, Forbidden
from stratus.runtime.clients.catalog import ServiceNotInCatalog

DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class NetworkRequest:
    networks: list[dict[str, Any]]
    security_group_ids: list[str] | None


def resolve(
    client: NetworkClient,
    ctx: RequestContext,
    requested: str | list[dict[str, Any]] | None,
    security_groups: list[str],
    count: int,
    *,
    external: bool = False,
) -> NetworkRequest:
    """``external``: whether the caller may plug servers into external networks that are
    not shared (the ``network:attach_external_network`` rule)."""
    if requested == "none":
        return NetworkRequest([], None)
    try:
        if requested is None or requested == "auto":
            networks = _automatic(client, ctx, every=requested is None)
        else:
            networks = [_item(client, ctx, item, count, external) for item in requested]
        if not any("network_id" in item for item in networks):
            return NetworkRequest(networks, None)
        return NetworkRequest(networks, _security_groups(client, ctx, security_groups))
    except ServiceNotInCatalog as exc:
        if requested is None or requested == "auto":
            return NetworkRequest([], None)
        raise BadRequest("This cloud has no network service; use networks 'none'.") from exc


def resolve_one(
    client: NetworkClient, ctx: RequestContext, item: dict[str, Any], *, external: bool = False
) -> dict[str, Any]:
    """One port or network to plug into an existing server (an interface attach), checked
    as each entry of a create is: ``{"uuid", "port", "fixed_ip"}``, or none of them for
    the one network the project can use."""
    try:
        if not item:
            return _automatic(client, ctx, every=False)[0]
        return _item(client, ctx, item, 1, external)
    except ServiceNotInCatalog as exc:
        raise BadRequest("This cloud has no network service.") from exc


def _usable(client: NetworkClient, ctx: RequestContext) -> list[dict[str, Any]]:
    own = client.list_networks(ctx.token, project_id=ctx.project_id)
    shared = client.list_networks(ctx.token, shared="true")
    found = {n["id"]: n for n in [*own, *shared] if not n.get("router:external")}
    return sorted(found.values(), key=lambda n: n["id"])


def _automatic(client: NetworkClient, ctx: RequestContext, every: bool) -> list[dict[str, Any]]:
    usable = _usable(client, ctx)
    if every:
        return [_entry(n) for n in usable]
    if len(usable) > 1:
        raise Conflict("Multiple possible networks found, use a Network ID to be more specific.")
    if usable:
        return [_entry(usable[0])]
    allocated = client.auto_allocated_network(ctx.project_id or "", ctx.token)
    if allocated is None:
        raise BadRequest(
            f"Unable to automatically allocate a network for project {ctx.project_id}."
        )
    return [{"network_id": allocated}]


def _item(
    client: NetworkClient, ctx: RequestContext, item: dict[str, Any], count: int, external: bool
) -> dict[str, Any]:
    if item.get("port"):
        port = client.show_port(item["port"], ctx.token)
        if port is None:
            raise BadRequest(f"Port {item['port']} could not be found.")
        if port.get("device_id"):
            raise Conflict(f"Port {item['port']} is still in use.")
        if count > 1:
            raise BadRequest("Multiple servers cannot share one port; ask for one server.")
        if not external:
            _check_not_external(client.show_network(port["network_id"], ctx.token))
        return {"port_id": port["id"]}
    network_id = item.get("uuid")
    if not network_id:
        raise BadRequest("Each entry of networks needs a uuid or a port.")
    network = client.show_network(network_id, ctx.token)
    if network is None:
        raise BadRequest(f"Network {network_id} could not be found.")
    if not external:
        _check_not_external(network)
    if not network.get("subnets"):
        raise BadRequest(f"Network {network_id} requires a subnet in order to boot instances on.")
    entry = _entry(network)
    if item.get("fixed_ip"):
        try:
            ipaddress.ip_address(item["fixed_ip"])
        except ValueError as exc:
            raise BadRequest(f"Invalid fixed IP address {item['fixed_ip']!r}.") from exc
        if count > 1:
            raise BadRequest("Multiple servers cannot share one fixed IP; ask for one server.")
        entry["fixed_ip"] = item["fixed_ip"]
    return entry


def _check_not_external(network: dict[str, Any] | None) -> None:
    """External networks carry floating IPs and routers' gateways: only administrators
    plug servers into one that is not shared, as in Nova."""
    if network and network.get("router:external") and not network.get("shared"):
        raise Forbidden(
            f"It is not allowed to create an interface on external network {network['id']}"
        )


def _entry(network: dict[str, Any]) -> dict[str, Any]:
    """A port to make on ``network``, with what the agent keeps of the network."""
    known = {"name": network.get("name"), "mtu": network.get("mtu")}
    return {"network_id": network["id"], "network": known}


def _security_groups(
    client: NetworkClient, ctx: RequestContext, names: list[str]
) -> list[str] | None:
    """The ids of the named groups; None for the default group alone, which the network
    service gives a port when it names none (and not on a network without port
    security), so that the common create needs no lookup."""
    if names == [DEFAULT_GROUP]:
        return None
    groups = client.security_groups(ctx.project_id or "", ctx.token)
    ids = []
    for name in names:
        matches = [g["id"] for g in groups if g["id"] == name or g["name"] == name]
        if not matches:
            raise BadRequest(f"Unable to find security_group with name or id '{name}'")
        if len(matches) > 1:
            raise Conflict(f"Multiple security groups are named '{name}'; use its id.")
        ids.append(matches[0])
    return ids
