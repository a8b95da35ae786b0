"""IP address management: what a subnet offers, and which address a port gets.

An address is held by a row of ``network_ip_allocations`` keyed by (subnet, address), so
two ports can never hold the same one: of two concurrent creates that picked the same
free address, one commits and the other's transaction runs again and picks another
(see :mod:`stratus.network.retry`). Deleting the row returns the address to the pool.
A subnet's gateway lies outside its allocation pools, and its DHCP server holds an
address like any port, so neither is ever handed out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.ranges import pick_free
from stratus.runtime.api.errors import BadRequest, Conflict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


def invalid(field: str, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for {field}. Reason: {reason}", error_type="InvalidInput")


def parse_cidr(value: object, field: str = "cidr") -> IPNetwork:
    """A subnet in CIDR notation, with no host bits set."""
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise invalid(field, f"'{value}' is not a valid IP subnet.") from None
    raise invalid(field, f"'{value}' has host bits set; the subnet it names is '{loose}'.")


def parse_prefix(value: object, field: str) -> IPNetwork:
    """A CIDR where host bits are tolerated and dropped (rule prefixes, route targets)."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise invalid(field, f"'{value}' is not a valid IP subnet.") from None


def parse_ip(value: object, field: str = "ip_address") -> IPAddress:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise invalid(field, f"'{value}' is not a valid IP address.") from None


def usable(net: IPNetwork) -> tuple[int, int]:
    """The first and last address a host may hold: not the network address, nor the
    broadcast address of an IPv4 subnet."""
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    return first, last


def check_size(net: IPNetwork) -> None:
    first, last = usable(net)
    if last < first or net.prefixlen == 0:
        raise invalid("cidr", f"'{net}' leaves no addresses for hosts.")


def default_pools(net: IPNetwork, gateway: IPAddress | None) -> list[dict[str, str]]:
    """Every usable address but the gateway's, as allocation pools."""
    first, last = usable(net)
    ranges = [(first, last)]
    if gateway is not None and first <= int(gateway) <= last:
        ranges = [(first, int(gateway) - 1), (int(gateway) + 1, last)]
    return [_pool(net.version, lo, hi) for lo, hi in ranges if lo <= hi]


def check_pools(
    net: IPNetwork, pools: Iterable[dict[str, str]], gateway: IPAddress | None
) -> list[dict[str, str]]:
    """Validate requested allocation pools: inside the subnet's usable range, not
    overlapping one another, and clear of the gateway."""
    first, last = usable(net)
    ranges = []
    for pool in pools:
        start = parse_ip(pool.get("start"), "allocation_pools")
        end = parse_ip(pool.get("end"), "allocation_pools")
        if start.version != net.version or end.version != net.version:
            raise invalid("allocation_pools", f"pool {start}-{end} is not IPv{net.version}.")
        if int(start) > int(end):
            raise invalid("allocation_pools", f"pool {start}-{end} starts after it ends.")
        if int(start) < first or int(end) > last:
            raise BadRequest(
                f"The allocation pool {start}-{end} spans beyond the subnet cidr {net}.",
                error_type="OutOfBoundsAllocationPool",
            )
        if gateway is not None and int(start) <= int(gateway) <= int(end):
            raise Conflict(
                f"Gateway ip {gateway} conflicts with allocation pool {start}-{end}.",
                error_type="GatewayConflictWithAllocationPools",
            )
        ranges.append((int(start), int(end)))
    ranges.sort()
    for (_, prev_end), (start, end) in zip(ranges, ranges[1:], strict=False):
        if start <= prev_end:
            raise BadRequest(
                f"Found overlapping allocation pools: {_pool(net.version, start, end)}.",
                error_type="OverlappingAllocationPools",
            )
    return [_pool(net.version, lo, hi) for lo, hi in ranges]


def _pool(version: int, lo: int, hi: int) -> dict[str, str]:
    return {
        "start": str(ipaddress.ip_address(lo) if version == 4 else ipaddress.IPv6Address(lo)),
        "end": str(ipaddress.ip_address(hi) if version == 4 else ipaddress.IPv6Address(hi)),
    }


def pool_ranges(subnet: models.Subnet) -> list[tuple[int, int]]:
    return sorted(
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in subnet.allocation_pools
    )


def eui64(net: IPNetwork, mac: str) -> IPAddress:
    """The SLAAC address of a MAC in an IPv6 /64."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(bytes(interface)))


def is_auto_address(subnet: models.Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in AUTO_ADDRESS_MODES


def choose(
    session: Session,
    subnet: models.Subnet,
    port: models.Port,
    requested: str | None = None,
    *,
    for_router: bool = False,
) -> str:
    """The address of ``subnet`` that ``port`` is to hold: the requested one if it is
    free, else the lowest free one of the allocation pools (the SLAAC address on an
    auto-addressed IPv6 subnet). ``for_router``: the port is a router's interface, which
    takes the gateway address unless told otherwise. Holding it is the caller's insert."""
    net = ipaddress.ip_network(subnet.cidr)
    gateway = ipaddress.ip_address(subnet.gateway_ip) if subnet.gateway_ip else None
    if requested is not None or (for_router and gateway is not None):
        wanted = parse_ip(requested) if requested is not None else gateway
        address = _check_requested(net, subnet, wanted, gateway, for_router)  # type: ignore[arg-type]
        _check_free(session, subnet, address)
    elif is_auto_address(subnet):
        address = eui64(net, port.mac_address)
        _check_free(session, subnet, address)
    else:
        address = _next_free(session, subnet, net)
    return str(address)


def _check_requested(
    net: IPNetwork,
    subnet: models.Subnet,
    address: IPAddress,
    gateway: IPAddress | None,
    for_router: bool,
) -> IPAddress:
    first, last = usable(net)
    if address.version != net.version or not first <= int(address) <= last:
        raise BadRequest(
            f"IP address {address} is not a valid IP for subnet {subnet.id} ({subnet.cidr}).",
            error_type="InvalidIpForSubnet",
        )
    if address == gateway and not for_router:
        raise Conflict(
            f"IP address {address} is the gateway of subnet {subnet.id}; only a router "
            "interface may hold it.",
            error_type="IpAddressAlreadyAllocated",
        )
    return address


def _check_free(session: Session, subnet: models.Subnet, address: IPAddress) -> None:
    holder = session.scalar(
        sa.select(models.IPAllocation.port_id).where(
            models.IPAllocation.subnet_id == subnet.id,
            models.IPAllocation.ip_address == str(address),
        )
    )
    if holder is not None:
        raise Conflict(
            f"IP address {address} already allocated in subnet {subnet.id}.",
            error_type="IpAddressAlreadyAllocated",
        )


def _next_free(session: Session, subnet: models.Subnet, net: IPNetwork) -> IPAddress:
    taken = [
        int(ipaddress.ip_address(ip))
        for ip in session.scalars(
            sa.select(models.IPAllocation.ip_address).where(
                models.IPAllocation.subnet_id == subnet.id
            )
        )
    ]
    chosen = pick_free(pool_ranges(subnet), taken)
    if chosen is None:
        raise Conflict(
            f"No more IP addresses available on subnet {subnet.id} ({subnet.cidr}).",
            error_type="IpAddressGenerationFailure",
        )
    return ipaddress.IPv4Address(chosen) if net.version == 4 else ipaddress.IPv6Address(chosen)


def overlapping(subnets: Iterable[models.Subnet], net: IPNetwork) -> models.Subnet | None:
    for subnet in subnets:
        if ipaddress.ip_network(subnet.cidr).overlaps(net):
            return subnet
    return None


def carve(
    prefixes: Iterable[IPNetwork], used: Iterable[IPNetwork], prefixlen: int
) -> IPNetwork | None:
    """The lowest block of ``prefixlen`` inside ``prefixes`` that overlaps nothing used."""
    used = list(used)
    free: list[IPNetwork] = []
    for prefix in prefixes:
        blocks = [prefix]
        for taken in used:
            remaining: list[IPNetwork] = []
            for block in blocks:
                if not block.overlaps(taken):
                    remaining.append(block)
                elif taken.subnet_of(block) and taken != block:  # type: ignore[arg-type]
                    remaining.extend(block.address_exclude(taken))  # type: ignore[arg-type]
            blocks = remaining
        free.extend(blocks)
    for block in sorted(free, key=lambda b: int(b.network_address)):
        if block.prefixlen <= prefixlen:
            return next(block.subnets(new_prefix=prefixlen))
    return None
