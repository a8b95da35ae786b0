"""Address translation in a router namespace: SNAT of internal subnets out of the gateway
(``qg-``) interface, and floating IPs as DNAT/SNAT pairs.

The router's chains are changed as one ``iptables-restore`` batch inside its namespace,
with the same owned-chains scheme as the host firewall (see ``iptables``). A floating IP
must also be an address of the gateway interface, so that the router answers ARP for it:
give it with ``Netlink(namespace).ensure_address(gateway, f"{fip}/32")``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from stratus.host import iptables, namespaces
from stratus.host.iptables import Chain

DEFAULT_PREFIX = "stratus"


@dataclass(frozen=True)
class FloatingIp:
    floating_ip_address: str
    fixed_ip_address: str


@dataclass(frozen=True)
class RouterNat:
    """What a router translates.

    Traffic from ``internal_cidrs`` leaving through ``gateway_device`` takes the source
    ``gateway_ip`` (no SNAT when it is None). Traffic between internal subnets keeps its
    addresses. Each floating IP maps to one fixed IP both ways and takes precedence.
    """

    gateway_device: str
    gateway_ip: str | None = None
    internal_cidrs: tuple[str, ...] = ()
    floating_ips: tuple[FloatingIp, ...] = ()


def render(nat: RouterNat, *, prefix: str = DEFAULT_PREFIX) -> tuple[Chain, ...]:
    """The nat-table chains of a router (pure)."""
    iptables.check_prefix(prefix)
    qg = nat.gateway_device
    fips = sorted(nat.floating_ips, key=lambda f: f.floating_ip_address)
    dnat = [
        f"-d {_host(f.floating_ip_address)} -j DNAT --to-destination {f.fixed_ip_address}"
        for f in fips
    ]
    snat = [
        f"-s {_host(f.fixed_ip_address)} -o {qg} -j SNAT --to-source {f.floating_ip_address}"
        for f in fips
    ]
    if nat.gateway_ip is not None:
        snat += [
            f"-s {ipaddress.ip_network(cidr)} -o {qg} -j SNAT --to-source {nat.gateway_ip}"
            for cidr in nat.internal_cidrs
        ]
    return (
        Chain("nat", f"{prefix}-PREROUTING", tuple(dnat), hook="PREROUTING"),
        Chain("nat", f"{prefix}-POSTROUTING", tuple(snat), hook="POSTROUTING"),
    )


def apply(namespace: str, nat: RouterNat, *, prefix: str = DEFAULT_PREFIX) -> None:
    """Make the router's translations exactly ``nat``, in one atomic batch."""
    iptables.apply(4, render(nat, prefix=prefix), prefix, namespace=namespace)


def remove(namespace: str, *, prefix: str = DEFAULT_PREFIX) -> None:
    """Delete every translation chain of this prefix in the router."""
    iptables.remove(4, prefix, namespace=namespace)


def enable_forwarding(namespace: str) -> None:
    """Let the router namespace route IPv4 and IPv6."""
    namespaces.run_in(namespace, _write_forwarding)


def _write_forwarding() -> None:
    # /proc/sys/net shows the namespace of the thread that opens it: the router's here.
    for knob in ("ipv4/ip_forward", "ipv6/conf/all/forwarding"):
        with open(f"/proc/sys/net/{knob}", "w") as f:
            f.write("1\n")


def _host(address: str) -> str:
    return str(ipaddress.ip_network(address))
