"""Ethernet-level anti-spoofing on bridge ports: source MACs and ARP, which iptables never
sees (br_netfilter hands it only IP packets).

One nftables table of the ``bridge`` family per owner prefix, replaced whole in one
``nft -f`` transaction. Every frame a filtered port sends must carry one of its MACs; an
ARP packet must also name one of its MACs and one of its IPv4 addresses (or 0.0.0.0, an
address probe) as its sender. Drops in a bridge-family table are final whatever other
tables say, and Docker keeps no rules in that family, so the two never interact.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from stratus.host import commands


@dataclass(frozen=True)
class Identity:
    """What one port may claim to be: its bridge port, MACs and IPv4 addresses/networks."""

    device: str
    macs: tuple[str, ...]
    ipv4: tuple[str, ...]


def render(identities: Sequence[Identity], prefix: str) -> str:
    """The ``nft -f`` script that replaces the prefix's table (pure)."""
    chains = []
    jumps = []
    for port in sorted(identities, key=lambda i: i.device):
        chain = f"port-{port.device}"
        jumps.append(f'"{port.device}" : jump {chain}')
        macs = ", ".join(sorted({mac.lower() for mac in port.macs}))
        nets = [ipaddress.ip_network(a, strict=False) for a in port.ipv4]
        nets.append(ipaddress.ip_network("0.0.0.0/32"))  # ARP probes before an address
        claims = ", ".join(str(n) for n in ipaddress.collapse_addresses(nets))
        chains += [
            f"\tchain {chain} {{",
            f"\t\tether saddr != {{ {macs} }} drop",
            f"\t\tarp saddr ether != {{ {macs} }} drop",
            f"\t\tarp saddr ip != {{ {claims} }} drop",
            "\t}",
        ]
    lines = [*_delete(prefix), f"table bridge {prefix} {{", "\tchain prerouting {"]
    lines.append("\t\ttype filter hook prerouting priority -300; policy accept;")
    if jumps:
        lines.append(f"\t\tiifname vmap {{ {', '.join(jumps)} }}")
    lines += ["\t}", *chains, "}"]
    return "".join(line + "\n" for line in lines)


def apply(identities: Sequence[Identity], prefix: str) -> None:
    commands.run(["nft", "-f", "-"], stdin=render(identities, prefix))


def remove(prefix: str) -> None:
    commands.run(["nft", "-f", "-"], stdin="".join(line + "\n" for line in _delete(prefix)))


def _delete(prefix: str) -> list[str]:
    # Declaring the table first makes its deletion succeed also when it does not exist.
    return [f"table bridge {prefix} {{}}", f"delete table bridge {prefix}"]
