"""``/v2.0/subnets``: IPv4 and IPv6 subnets, their pools, gateway, DNS servers and host
routes; from a CIDR or carved out of a subnet pool.

CIDRs may not overlap within a network (they may across networks). Adding or removing a
subnet raises its network's revision, so two concurrent creates on one network are
checked against each other: the second to commit is retried and sees the first.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stratus.network import dhcp, ipam, models, policy, ports, quotas, tags
from stratus.network.api import access
from stratus.network.api.common import (
    Body,
    OwnedBody,
    UpdateBody,
    apply,
    boolean,
    check_revision,
    collection,
    fields_of,
    integer,
    list_query,
    list_rows,
    match,
    owned,
    select_fields,
    standard_filters,
)
from stratus.network.backend import Backend
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router()
Ipv6Mode = Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]


class Pool(Body):
    start: str
    end: str


class HostRoute(Body):
    destination: str
    nexthop: str


class SubnetCreate(OwnedBody):
    network_id: str
    ip_version: Literal[4, 6] | None = None
    cidr: str | None = None
    subnetpool_id: str | None = None
    use_default_subnetpool: bool = False
    prefixlen: int | None = Field(None, ge=0, le=128)
    gateway_ip: str | None = None
    allocation_pools: list[Pool] | None = None
    dns_nameservers: list[str] = Field(default_factory=list)
    host_routes: list[HostRoute] = Field(default_factory=list)
    enable_dhcp: bool = True
    ipv6_ra_mode: Ipv6Mode | None = None
    ipv6_address_mode: Ipv6Mode | None = None


class SubnetUpdate(UpdateBody):
    gateway_ip: str | None = None
    allocation_pools: list[Pool] | None = None
    dns_nameservers: list[str] | None = None
    host_routes: list[HostRoute] | None = None
    enable_dhcp: bool | None = None


class CreateRequest(BaseModel):
    subnet: SubnetCreate


class UpdateRequest(BaseModel):
    subnet: SubnetUpdate


def render(subnet: models.Subnet) -> dict[str, Any]:
    return {
        **owned(subnet),
        "name": subnet.name,
        "network_id": subnet.network_id,
        "ip_version": subnet.ip_version,
        "cidr": subnet.cidr,
        "gateway_ip": subnet.gateway_ip,
        "enable_dhcp": subnet.enable_dhcp,
        "ipv6_ra_mode": subnet.ipv6_ra_mode,
        "ipv6_address_mode": subnet.ipv6_address_mode,
        "allocation_pools": list(subnet.allocation_pools),
        "dns_nameservers": list(subnet.dns_nameservers),
        "host_routes": list(subnet.host_routes),
        "subnetpool_id": subnet.subnetpool_id,
        "service_types": [],
    }


FILTERS = {
    **standard_filters(models.Subnet),
    "network_id": match(models.Subnet.network_id),
    "ip_version": match(models.Subnet.ip_version, integer),
    "cidr": match(models.Subnet.cidr),
    "gateway_ip": match(models.Subnet.gateway_ip),
    "enable_dhcp": match(models.Subnet.enable_dhcp, boolean),
    "ipv6_ra_mode": match(models.Subnet.ipv6_ra_mode),
    "ipv6_address_mode": match(models.Subnet.ipv6_address_mode),
    "subnetpool_id": match(models.Subnet.subnetpool_id),
}
SORT_KEYS = ("id", "name", "cidr", "ip_version", "network_id", "created_at", "project_id")


@router.get("/v2.0/subnets")
def list_subnets(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(request, models.Subnet, FILTERS, SORT_KEYS)

    def work(session: Session) -> dict[str, Any]:
        stmt = sa.select(models.Subnet).where(access.subnets(ctx))
        rows, links = list_rows(session, request, stmt, models.Subnet, query, "subnets")
        return collection("subnets", [render(s) for s in rows], links, query.fields)

    return be.transaction(work)


@router.get("/v2.0/subnets/{subnet_id}")
def show_subnet(
    subnet_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render(access.find(session, ctx, models.Subnet, subnet_id))

    return {"subnet": select_fields(be.transaction(work), fields_of(request))}


@router.post("/v2.0/subnets", status_code=201)
def create_subnet(
    body: CreateRequest = Depends(json_body(CreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.subnet
    project = spec.owner(ctx)

    def work(session: Session) -> dict[str, Any]:
        network = access.find(session, ctx, models.Network, spec.network_id)
        target = {"project_id": project, "network_project_id": network.project_id}
        policy.enforce(ctx, "create_subnet", target)
        quotas.check(session, be.conf, project, "subnet")
        pool = _pool(session, ctx, spec)
        net = _cidr(session, spec, pool, project)
        version = net.version
        if spec.ip_version is not None and spec.ip_version != version:
            raise ipam.invalid("ip_version", f"{spec.ip_version} does not match cidr {net}.")
        ipam.check_size(net)
        _check_ipv6_modes(net, spec.ipv6_ra_mode, spec.ipv6_address_mode)
        clash = ipam.overlapping(network.subnets, net)
        if clash is not None:
            raise BadRequest(
                f"Invalid input for operation: Requested subnet with cidr: {net} for network: "
                f"{network.id} overlaps with subnet {clash.id} ({clash.cidr}).",
                error_type="InvalidInput",
            )
        gateway = _gateway(net, spec.gateway_ip, given="gateway_ip" in spec.model_fields_set)
        pools = (
            ipam.default_pools(net, gateway)
            if spec.allocation_pools is None
            else ipam.check_pools(net, [p.model_dump() for p in spec.allocation_pools], gateway)
        )
        subnet = models.Subnet(
            id=new_id(),
            project_id=project,
            name=spec.name,
            description=spec.description,
            ip_version=version,
            cidr=str(net),
            gateway_ip=str(gateway) if gateway else None,
            enable_dhcp=spec.enable_dhcp,
            ipv6_ra_mode=spec.ipv6_ra_mode,
            ipv6_address_mode=spec.ipv6_address_mode,
            subnetpool_id=pool.id if pool else None,
            allocation_pools=pools,
            dns_nameservers=_nameservers(be, spec.dns_nameservers),
            host_routes=_routes(be, net, spec.host_routes),
        )
        subnet.network = network
        session.add(subnet)
        network.touch()
        session.flush()
        dhcp.sync_port(session, be, network)
        session.flush()
        return render(subnet)

    result = be.transaction(work)
    be.notifier.networks_changed([spec.network_id])
    return {"subnet": result}


def _pool(session: Session, ctx: RequestContext, spec: SubnetCreate) -> models.SubnetPool | None:
    if spec.subnetpool_id is not None:
        return access.find(session, ctx, models.SubnetPool, spec.subnetpool_id)
    if not spec.use_default_subnetpool:
        return None
    version = spec.ip_version or 4
    pool = session.scalar(
        sa.select(models.SubnetPool).where(
            models.SubnetPool.is_default, models.SubnetPool.ip_version == version
        )
    )
    if pool is None:
        raise BadRequest(
            f"No default subnet pool for IPv{version} exists.", error_type="InvalidInput"
        )
    return pool


def _cidr(
    session: Session, spec: SubnetCreate, pool: models.SubnetPool | None, project: str
) -> ipam.IPNetwork:
    """The subnet's CIDR: as given, checked against the pool if any, or carved from it."""
    if pool is None:
        if spec.cidr is None:
            raise BadRequest(
                "Invalid input for operation: a cidr or a subnetpool_id is required.",
                error_type="InvalidInput",
            )
        return ipam.parse_cidr(spec.cidr)
    if spec.ip_version is not None and spec.ip_version != pool.ip_version:
        raise ipam.invalid("ip_version", f"subnet pool {pool.id} is IPv{pool.ip_version}.")
    prefixes = [ipaddress.ip_network(p) for p in pool.prefixes]
    used = [
        ipaddress.ip_network(c)
        for c in session.scalars(
            sa.select(models.Subnet.cidr).where(models.Subnet.subnetpool_id == pool.id)
        )
    ]
    pool.touch()  # allocations from one pool are made one at a time
    if spec.cidr is not None:
        net = ipam.parse_cidr(spec.cidr)
        if not any(net.version == p.version and net.subnet_of(p) for p in prefixes):  # type: ignore[arg-type]
            raise BadRequest(
                f"Cidr {net} is not within the prefixes of subnet pool {pool.id}.",
                error_type="SubnetAllocationError",
            )
        if any(net.overlaps(u) for u in used):
            raise Conflict(
                f"Cidr {net} overlaps a subnet already allocated from subnet pool {pool.id}.",
                error_type="SubnetAllocationError",
            )
        prefixlen = net.prefixlen
    else:
        prefixlen = spec.prefixlen if spec.prefixlen is not None else pool.default_prefixlen
    if not pool.min_prefixlen <= prefixlen <= pool.max_prefixlen:
        raise BadRequest(
            f"Prefix length /{prefixlen} is outside /{pool.min_prefixlen} to "
            f"/{pool.max_prefixlen}, what subnet pool {pool.id} allows.",
            error_type="SubnetAllocationError",
        )
    _check_pool_quota(session, pool, project, prefixlen)
    if spec.cidr is not None:
        return net
    carved = ipam.carve(prefixes, used, prefixlen)
    if carved is None:
        raise Conflict(
            f"Insufficient prefix space in subnet pool {pool.id} to allocate a /{prefixlen}.",
            error_type="SubnetAllocationError",
        )
    return carved


def _check_pool_quota(
    session: Session, pool: models.SubnetPool, project: str, prefixlen: int
) -> None:
    """A pool's ``default_quota`` counts addresses (IPv4) or /64s (IPv6) per project."""
    if pool.default_quota is None:
        return
    unit = 32 if pool.ip_version == 4 else 64
    held = session.scalars(
        sa.select(models.Subnet.cidr).where(
            models.Subnet.subnetpool_id == pool.id, models.Subnet.project_id == project
        )
    )
    used = sum(2 ** (unit - ipaddress.ip_network(c).prefixlen) for c in held)
    if used + 2 ** (unit - prefixlen) > pool.default_quota:
        raise Conflict(
            f"Per-project quota of subnet pool {pool.id} ({pool.default_quota}) would be exceeded.",
            error_type="SubnetPoolQuotaExceeded",
        )


def _gateway(net: ipam.IPNetwork, value: str | None, given: bool) -> ipam.IPAddress | None:
    """The gateway: the first usable address unless given, none if given as null."""
    if not given:
        return net[1]
    if value is None:
        return None
    gateway = ipam.parse_ip(value, "gateway_ip")
    first, last = ipam.usable(net)
    if gateway.version != net.version or not first <= int(gateway) <= last:
        raise BadRequest(
            f"Invalid input for operation: gateway IP {gateway} is not a usable address of {net}.",
            error_type="InvalidInput",
        )
    return gateway


def _check_ipv6_modes(net: ipam.IPNetwork, ra_mode: str | None, address_mode: str | None) -> None:
    if net.version == 4:
        if ra_mode or address_mode:
            raise ipam.invalid("ipv6_ra_mode", "IPv6 modes apply to IPv6 subnets only.")
        return
    if ra_mode and address_mode and ra_mode != address_mode:
        raise ipam.invalid(
            "ipv6_ra_mode",
            f"ipv6_ra_mode {ra_mode} and ipv6_address_mode {address_mode} must be the same.",
        )
    if address_mode in ipam.AUTO_ADDRESS_MODES and net.prefixlen != 64:
        raise ipam.invalid(
            "cidr", f"{address_mode} addresses are EUI-64, which needs a /64 prefix, not {net}."
        )


def _nameservers(be: Backend, servers: list[str]) -> list[str]:
    limit = be.conf.network.max_dns_nameservers
    if len(servers) > limit:
        raise ipam.invalid("dns_nameservers", f"at most {limit} are allowed.")
    parsed = [str(ipam.parse_ip(s, "dns_nameservers")) for s in servers]
    if len(set(parsed)) != len(parsed):
        raise ipam.invalid("dns_nameservers", "the list holds duplicates.")
    return parsed


def _routes(be: Backend, net: ipam.IPNetwork, routes: list[HostRoute]) -> list[dict[str, str]]:
    limit = be.conf.network.max_subnet_host_routes
    if len(routes) > limit:
        raise ipam.invalid("host_routes", f"at most {limit} are allowed.")
    result = []
    for route in routes:
        destination = ipam.parse_cidr(route.destination, "host_routes")
        nexthop = ipam.parse_ip(route.nexthop, "host_routes")
        if destination.version != net.version or nexthop.version != net.version:
            raise ipam.invalid("host_routes", f"route to {destination} is not IPv{net.version}.")
        entry = {"destination": str(destination), "nexthop": str(nexthop)}
        if entry in result:
            raise ipam.invalid("host_routes", f"the route to {destination} is listed twice.")
        result.append(entry)
    return result


@router.put("/v2.0/subnets/{subnet_id}")
def update_subnet(
    subnet_id: str,
    request: Request,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.subnet

    def work(session: Session) -> dict[str, Any]:
        subnet = access.find(session, ctx, models.Subnet, subnet_id)
        check_revision(request, subnet)
        network = subnet.network
        target = {"project_id": subnet.project_id, "network_project_id": network.project_id}
        policy.enforce(ctx, "update_subnet", target)
        net = ipaddress.ip_network(subnet.cidr)
        if "gateway_ip" in spec.model_fields_set:
            gateway = _gateway(net, spec.gateway_ip, given=True)
            _check_gateway_free(session, subnet, gateway)
            subnet.gateway_ip = str(gateway) if gateway else None
        gateway = ipaddress.ip_address(subnet.gateway_ip) if subnet.gateway_ip else None
        if spec.allocation_pools is not None:
            pools = [p.model_dump() for p in spec.allocation_pools]
            subnet.allocation_pools = ipam.check_pools(net, pools, gateway)
        elif "gateway_ip" in spec.model_fields_set:
            ipam.check_pools(net, subnet.allocation_pools, gateway)
        if spec.dns_nameservers is not None:
            subnet.dns_nameservers = _nameservers(be, spec.dns_nameservers)
        if spec.host_routes is not None:
            subnet.host_routes = _routes(be, net, spec.host_routes)
        apply(subnet, spec, "name", "description", "enable_dhcp")
        subnet.touch()
        session.flush()
        dhcp.sync_port(session, be, network)
        session.flush()
        return render(subnet)

    result = be.transaction(work)
    be.notifier.networks_changed([result["network_id"]])
    return {"subnet": result}


def _check_gateway_free(
    session: Session, subnet: models.Subnet, gateway: ipam.IPAddress | None
) -> None:
    if gateway is None:
        return
    holder = session.scalar(
        sa.select(models.Port)
        .join(models.IPAllocation, models.IPAllocation.port_id == models.Port.id)
        .where(
            models.IPAllocation.subnet_id == subnet.id,
            models.IPAllocation.ip_address == str(gateway),
        )
    )
    if holder is not None and holder.device_owner != ports.ROUTER_INTERFACE:
        raise Conflict(
            f"Gateway ip {gateway} is held by port {holder.id}.",
            error_type="IpAddressInUse",
        )


@router.delete("/v2.0/subnets/{subnet_id}", status_code=204)
def delete_subnet(
    subnet_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> str:
        subnet = access.find(session, ctx, models.Subnet, subnet_id)
        check_revision(request, subnet)
        network = subnet.network
        target = {"project_id": subnet.project_id, "network_project_id": network.project_id}
        policy.enforce(ctx, "delete_subnet", target)
        holders = session.scalar(
            sa.select(sa.func.count())
            .select_from(models.IPAllocation)
            .join(models.Port, models.IPAllocation.port_id == models.Port.id)
            .where(
                models.IPAllocation.subnet_id == subnet.id, models.Port.device_owner != ports.DHCP
            )
        )
        if holders:
            raise Conflict(
                f"Unable to complete operation on subnet {subnet.id}: One or more ports have an "
                f"IP allocation from this subnet ({holders}).",
                error_type="SubnetInUse",
            )
        dhcp_port = dhcp.port_of(session, network.id)
        if dhcp_port is not None:
            for held in [a for a in dhcp_port.fixed_ips if a.subnet_id == subnet.id]:
                dhcp_port.fixed_ips.remove(held)
            session.flush()
        tags.drop(session, subnet.id)
        session.delete(subnet)
        session.flush()
        session.expire(network, ["subnets"])
        dhcp.sync_port(session, be, network)
        network.touch()
        return network.id

    network_id = be.transaction(work)
    be.notifier.networks_changed([network_id])
    return Response(status_code=204)
