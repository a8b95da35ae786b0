"""Routers: the external gateway (a port on an external network, SNAT on or off),
interfaces on internal subnets (a port holding the subnet's gateway address, or a port
the caller made), and static routes through addresses the router can reach."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import ipam, models, ports
from stratus.network.backend import Backend
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound


@dataclass(frozen=True)
class Gateway:
    network: models.Network
    enable_snat: bool | None  # None: unchanged, or the default for a new gateway
    fixed_ips: list[ports.FixedIP] | None  # None: any address of the network


def subnet_ids(router: models.Router) -> list[str]:
    return [a.subnet_id for i in router.interfaces for a in i.port.fixed_ips]


def _interface_cidrs(session: Session, router: models.Router) -> list[tuple[str, ipam.IPNetwork]]:
    ids = subnet_ids(router)
    rows = session.execute(
        sa.select(models.Subnet.id, models.Subnet.cidr).where(models.Subnet.id.in_(ids))
    )
    return [(subnet_id, ipaddress.ip_network(cidr)) for subnet_id, cidr in rows]


def set_gateway(
    session: Session, backend: Backend, router: models.Router, gateway: Gateway | None
) -> None:
    """Attach, change or (``None``) clear the router's external gateway."""
    current = router.gw_port
    if gateway is None:
        if current is not None:
            _check_gateway_unused(session, router)
            router.gw_port = None
            session.flush()
            ports.delete(session, current)
        return
    network = gateway.network
    if not network.external:
        raise BadRequest(
            f"Bad router request: network {network.id} is not an external network.",
            error_type="BadRequest",
        )
    if current is not None and current.network_id == network.id:
        if gateway.fixed_ips is not None:
            ports.replace_fixed_ips(session, current, network, gateway.fixed_ips)
        if gateway.enable_snat is not None:
            router.enable_snat = gateway.enable_snat
        return
    if current is not None:
        _check_gateway_unused(session, router)
        router.gw_port = None
        session.flush()
        ports.delete(session, current)
    if not network.subnets:
        raise BadRequest(
            f"Bad router request: external network {network.id} has no subnet to give the "
            "router gateway an address.",
            error_type="BadRequest",
        )
    _check_no_overlap(session, router, [ipaddress.ip_network(s.cidr) for s in network.subnets])
    port = ports.create(
        session,
        backend,
        network,
        ports.PortSpec(
            project_id="",
            device_owner=ports.ROUTER_GATEWAY,
            device_id=router.id,
            fixed_ips=gateway.fixed_ips,
            security_groups=[],
        ),
    )
    router.gw_port = port
    router.enable_snat = (
        backend.conf.network.enable_snat_by_default
        if gateway.enable_snat is None
        else gateway.enable_snat
    )


def _check_gateway_unused(session: Session, router: models.Router) -> None:
    used = session.scalar(
        sa.select(models.FloatingIP.id).where(models.FloatingIP.router_id == router.id)
    )
    if used is not None:
        raise Conflict(
            f"Gateway cannot be updated for router {router.id}, since a gateway to external "
            f"network is required by one or more floating IPs ({used}).",
            error_type="RouterExternalGatewayInUseByFloatingIp",
        )


def _check_no_overlap(session: Session, router: models.Router, cidrs: list[ipam.IPNetwork]) -> None:
    for subnet_id, existing in _interface_cidrs(session, router):
        for cidr in cidrs:
            if existing.overlaps(cidr):
                raise BadRequest(
                    f"Bad router request: cidr {cidr} overlaps cidr {existing} of subnet "
                    f"{subnet_id}, which router {router.id} is already attached to.",
                    error_type="BadRequest",
                )


def add_interface_by_subnet(
    session: Session, backend: Backend, router: models.Router, subnet: models.Subnet
) -> models.Port:
    """A new port on the subnet holding its gateway address, as a router interface."""
    if subnet.id in subnet_ids(router):
        raise BadRequest(
            f"Bad router request: router already has a port on subnet {subnet.id}.",
            error_type="BadRequest",
        )
    if not subnet.gateway_ip:
        raise BadRequest(
            f"Bad router request: subnet {subnet.id} has no gateway IP.", error_type="BadRequest"
        )
    _check_no_overlap(session, router, [ipaddress.ip_network(subnet.cidr)])
    port = ports.create(
        session,
        backend,
        subnet.network,
        ports.PortSpec(
            project_id=router.project_id,
            device_owner=ports.ROUTER_INTERFACE,
            device_id=router.id,
            fixed_ips=[ports.FixedIP(subnet_id=subnet.id)],
            security_groups=[],
        ),
    )
    _attach(session, router, port)
    return port


def add_interface_by_port(session: Session, router: models.Router, port: models.Port) -> None:
    """Make a port the caller made one of the router's interfaces."""
    if port.device_id or port.device_owner:
        raise Conflict(
            f"Unable to complete operation on port {port.id} for network {port.network_id}. "
            f"Port already has an attached device {port.device_id or port.device_owner}.",
            error_type="PortInUse",
        )
    if not port.fixed_ips:
        raise BadRequest(
            f"Bad router request: port {port.id} has no fixed IP.", error_type="BadRequest"
        )
    cidrs = [
        ipaddress.ip_network(session.get_one(models.Subnet, a.subnet_id).cidr)
        for a in port.fixed_ips
    ]
    if sum(1 for c in cidrs if c.version == 4) > 1:
        raise BadRequest(
            "Bad router request: cannot have multiple IPv4 subnets on router port.",
            error_type="BadRequest",
        )
    _check_no_overlap(session, router, cidrs)
    port.device_owner = ports.ROUTER_INTERFACE
    port.device_id = router.id
    port.security_group_bindings = []
    port.touch()
    _attach(session, router, port)


def _attach(session: Session, router: models.Router, port: models.Port) -> None:
    session.add(models.RouterPort(router_id=router.id, port_id=port.id))
    router.touch()
    session.flush()
    session.expire(router, ["interfaces"])


def find_interface(
    router: models.Router, port_id: str | None, subnet_id: str | None
) -> models.Port:
    for interface in router.interfaces:
        port = interface.port
        held = {a.subnet_id for a in port.fixed_ips}
        if port_id is not None and port.id != port_id:
            continue
        if subnet_id is not None and subnet_id not in held:
            if port_id is not None:
                raise Conflict(
                    f"Subnet {subnet_id} is not on router interface port {port_id}.",
                    error_type="SubnetMismatchForPort",
                )
            continue
        return port
    if port_id is not None:
        raise NotFound(
            f"Router {router.id} does not have an interface with id {port_id}.",
            error_type="RouterInterfaceNotFound",
        )
    raise NotFound(
        f"Router {router.id} has no interface on subnet {subnet_id}.",
        error_type="RouterInterfaceNotFoundForSubnet",
    )


def remove_interface(session: Session, router: models.Router, port: models.Port) -> None:
    held = [a.subnet_id for a in port.fixed_ips]
    used = session.scalar(
        sa.select(models.FloatingIP.id)
        .join(models.IPAllocation, models.IPAllocation.port_id == models.FloatingIP.fixed_port_id)
        .where(
            models.FloatingIP.router_id == router.id,
            models.IPAllocation.subnet_id.in_(held),
            models.IPAllocation.ip_address == models.FloatingIP.fixed_ip_address,
        )
    )
    if used is not None:
        raise Conflict(
            f"Router interface for subnet {held[0]} on router {router.id} cannot be deleted, "
            f"as it is required by one or more floating IPs ({used}).",
            error_type="RouterInterfaceInUseByFloatingIP",
        )
    cidrs = [ipaddress.ip_network(session.get_one(models.Subnet, s).cidr) for s in held]
    for route in router.routes:
        if any(ipaddress.ip_address(route["nexthop"]) in c for c in cidrs):
            raise Conflict(
                f"Router interface for subnet {held[0]} on router {router.id} cannot be "
                f"deleted, as it is required by the route to {route['destination']}.",
                error_type="RouterInterfaceInUseByRoute",
            )
    session.execute(sa.delete(models.RouterPort).where(models.RouterPort.port_id == port.id))
    ports.delete(session, port)
    router.touch()
    session.expire(router, ["interfaces"])


def check_routes(
    session: Session, backend: Backend, router: models.Router, routes: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Static routes in canonical form: each nexthop on a subnet the router is attached
    to, and not one of the router's own addresses."""
    limit = backend.conf.network.max_routes
    if len(routes) > limit:
        raise BadRequest(
            f"Invalid format for routes: at most {limit} routes are allowed.",
            error_type="RoutesExhausted",
        )
    attached = [cidr for _, cidr in _interface_cidrs(session, router)]
    own = {a.ip_address for i in router.interfaces for a in i.port.fixed_ips}
    if router.gw_port is not None:
        attached += [
            ipaddress.ip_network(session.get_one(models.Subnet, a.subnet_id).cidr)
            for a in router.gw_port.fixed_ips
        ]
        own |= {a.ip_address for a in router.gw_port.fixed_ips}
    result: list[dict[str, str]] = []
    for route in routes:
        destination = ipam.parse_cidr(route.get("destination"), "routes")
        nexthop = ipam.parse_ip(route.get("nexthop"), "routes")
        entry = {"destination": str(destination), "nexthop": str(nexthop)}
        if str(nexthop) in own or not any(nexthop in cidr for cidr in attached):
            raise BadRequest(
                f"Invalid format for routes: {entry}, the nexthop is not connected with router.",
                error_type="InvalidRoutes",
            )
        if entry not in result:
            result.append(entry)
    return result
