"""Security groups on the ports of Linux bridges, as iptables chains and ipsets.

Why iptables (through ``iptables-restore``) rather than an nftables table of our own:
once Docker runs, the iptables FORWARD policy is DROP and br_netfilter sends every
bridged frame through iptables FORWARD. An accept in another nftables table cannot
overrule that drop (a packet must be accepted by every base chain on the hook), so the
verdict on our bridges' frames has to be given in iptables FORWARD itself. We call the
``iptables`` the host has selected (nft or legacy backend), which is the one Docker uses,
so both always edit the same ruleset; we add our own chains and one jump per built-in
chain, and never touch Docker's chains. Without Docker the same rules work unchanged
(FORWARD policy ACCEPT); ``apply`` turns on br_netfilter's iptables calls either way.

Layout, for owner prefix ``P`` (``stratus`` unless told otherwise), per address family:

- filter FORWARD -> ``P-FORWARD``: frames bridged out to a filtered port go through
  ``P-i-DEV`` (ingress), frames bridged in from one through ``P-o-DEV`` (egress). Both
  RETURN what they allow and DROP the rest. Frames bridged within the bridge of a listed
  network are then ACCEPTed, which takes them past Docker's DROP policy; frames of any
  other bridge are left to whoever owns it.
- filter INPUT -> ``P-INPUT``: frames from a filtered port to the host itself pass
  ``P-o-DEV`` too.
- ``P-s-DEV``: anti-spoofing, the (MAC, source address) pairs the port may send from.
- raw PREROUTING/OUTPUT -> ``P-PREROUTING``/``P-OUTPUT``: each listed network's bridge
  gets its own conntrack zone, so equal tenant addresses on two networks never share
  connection state.
- ipsets ``P4-...``/``P6-...``: the member addresses of each remote group a rule names.
- nftables ``bridge P`` table: source MACs and ARP of filtered ports (see ``spoofing``),
  which iptables never sees.

Connection tracking makes it stateful: replies of allowed connections come back in. Rules
only ever allow; a port with port security disabled gets no chains at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stratus.host import commands, ipsets, iptables, spoofing
from stratus.host.errors import HostError
from stratus.host.iptables import Chain
from stratus.host.names import bridge_name

DEFAULT_PREFIX = "stratus"
FAMILIES = (4, 6)
_ETHERTYPE = {"IPv4": 4, "IPv6": 6}
_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
_PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp", 132: "sctp"}
_PORT_PROTOCOLS = {6: "tcp", 17: "udp", 132: "sctp", 33: "dccp"}
_ICMP = {4: 1, 6: 58}
_ESTABLISHED = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
_INVALID = "-m conntrack --ctstate INVALID -j DROP"
# ICMPv6 that neighbour discovery and multicast listening need, whatever the rules say.
_NDP_IN = (130, 131, 132, 134, 135, 136, 143)  # MLD, router advert, neighbour sol./adv.
_NDP_OUT = (130, 131, 132, 133, 135, 136, 143)  # router solicitation, never an advert
_BRIDGE_NF = Path("/proc/sys/net/bridge")
_MAX_ZONE = 65535


@dataclass(frozen=True)
class Rule:
    """A security group rule, with the fields of the Networking API.

    For ICMP, ``port_range_min`` is the type and ``port_range_max`` the code.
    """

    direction: str  # "ingress" or "egress"
    ethertype: str = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class AddressPair:
    """An allowed address pair: another address (or network) the port may send from."""

    ip_address: str
    mac_address: str | None = None  # None: the port's own MAC


@dataclass(frozen=True)
class Port:
    """A port as plugged on this host: ``device`` is its bridge port (tap or veth end)."""

    device: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    security_groups: tuple[str, ...] = ()
    port_security_enabled: bool = True


@dataclass(frozen=True)
class Ruleset:
    """Everything the firewall of one host enforces.

    ``ports`` lists every port plugged on the host, filtered or not: frames of their
    networks' bridges are accepted once the port chains have passed them. ``rules`` holds
    each security group's rules; ``members`` each group's member addresses, which rules
    naming it as their remote group match.
    """

    ports: tuple[Port, ...] = ()
    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    """What :func:`apply` installed: given back to the next ``apply``, which then reads
    nothing back and changes only what differs (see ``iptables``)."""

    installed: Mapping[int, iptables.Installed]
    sets: Mapping[str, tuple[str, ...]]  # set name -> its members
    spoofing: str


@dataclass(frozen=True)
class Batch:
    """The rendered firewall: chains per address family, the sets they match, and the
    ``nft`` script of the Ethernet-level anti-spoofing table."""

    chains: Mapping[int, tuple[Chain, ...]]
    sets: tuple[ipsets.IpSet, ...]
    spoofing: str


def render(ruleset: Ruleset, *, zones: Mapping[str, int], prefix: str = DEFAULT_PREFIX) -> Batch:
    """The chains and sets for ``ruleset``; ``zones`` gives each bridge its conntrack zone."""
    iptables.check_prefix(prefix)
    filtered = sorted((p for p in ruleset.ports if p.port_security_enabled), key=_device)
    bridges = sorted({bridge_name(p.network_id) for p in ruleset.ports})
    sets: dict[str, ipsets.IpSet] = {}
    chains = {}
    for family in FAMILIES:
        renderer = _FamilyRenderer(family, prefix, ruleset, sets)
        chains[family] = renderer.chains(filtered, bridges, zones)
    return Batch(
        chains=chains,
        sets=tuple(sets[name] for name in sorted(sets)),
        spoofing=spoofing.render([_identity(p) for p in filtered], prefix),
    )


def assign_zones(bridges: Iterable[str], current: Mapping[str, int]) -> dict[str, int]:
    """Conntrack zones for ``bridges``: a bridge keeps its current zone, so its tracked
    connections survive, and a new bridge gets the lowest free one."""
    wanted = sorted(set(bridges))
    zones = {b: current[b] for b in wanted if b in current}
    used = set(zones.values())
    free = (z for z in range(1, _MAX_ZONE + 1) if z not in used)
    for bridge in wanted:
        if bridge not in zones:
            zone = next(free, None)
            if zone is None:
                raise HostError("no free conntrack zone left for bridge " + bridge)
            zones[bridge] = zone
    return zones


def apply(
    ruleset: Ruleset, *, prefix: str = DEFAULT_PREFIX, previous: Applied | None = None
) -> Applied:
    """Install ``ruleset``, replacing whatever this prefix had installed before.

    Sets are filled first (each swapped in atomically), then each family's chains change
    in one ``iptables-restore`` batch and the anti-spoofing table in one ``nft``
    transaction, then sets no rule uses any more are destroyed. Without ``previous`` (what
    the last call returned) everything is read back from the host and rewritten, which
    also repairs changes made behind our back; with it, only what changed is written.
    """
    iptables.check_prefix(prefix)
    _ensure_bridge_netfilter()
    if previous is None:
        installed = {family: iptables.read(family, prefix) for family in FAMILIES}
        old_sets: dict[str, tuple[str, ...] | None] = dict.fromkeys(ipsets.names(prefix))
    else:
        installed, old_sets = dict(previous.installed), dict(previous.sets)
    current_zones = _installed_zones(installed[4], prefix)
    bridges = {bridge_name(p.network_id) for p in ruleset.ports}
    batch = render(ruleset, zones=assign_zones(bridges, current_zones), prefix=prefix)
    ipsets.apply([s for s in batch.sets if old_sets.get(s.name) != s.members])
    for family in FAMILIES:
        iptables.apply(family, batch.chains[family], prefix, installed=installed[family])
    if previous is None or previous.spoofing != batch.spoofing:
        commands.run(["nft", "-f", "-"], stdin=batch.spoofing)
    ipsets.destroy(old_sets.keys() - {s.name for s in batch.sets})
    return Applied(
        installed={f: iptables.installed_of(batch.chains[f]) for f in FAMILIES},
        sets={s.name: s.members for s in batch.sets},
        spoofing=batch.spoofing,
    )


def remove_all(*, prefix: str = DEFAULT_PREFIX) -> None:
    """Delete every chain, jump and set of this prefix."""
    iptables.check_prefix(prefix)
    for family in FAMILIES:
        iptables.remove(family, prefix)
    spoofing.remove(prefix)
    ipsets.destroy(ipsets.names(prefix))


class _FamilyRenderer:
    """Renders the chains of one address family; collects the ipsets rules refer to."""

    def __init__(
        self, family: int, prefix: str, ruleset: Ruleset, sets: dict[str, ipsets.IpSet]
    ) -> None:
        self.family = family
        self.prefix = prefix
        self.ruleset = ruleset
        self.sets = sets

    def chains(
        self, filtered: list[Port], bridges: list[str], zones: Mapping[str, int]
    ) -> tuple[Chain, ...]:
        p = self.prefix
        forward: list[str] = []
        to_host: list[str] = []
        per_port: list[Chain] = []
        for port in filtered:
            dev = port.device
            forward.append(f"-m physdev --physdev-out {dev} --physdev-is-bridged -j {p}-i-{dev}")
            forward.append(f"-m physdev --physdev-in {dev} --physdev-is-bridged -j {p}-o-{dev}")
            to_host.append(f"-m physdev --physdev-in {dev} -j {p}-o-{dev}")
            per_port += [
                Chain("filter", f"{p}-i-{dev}", self._ingress(port)),
                Chain("filter", f"{p}-o-{dev}", self._egress(port)),
                Chain("filter", f"{p}-s-{dev}", self._spoofing(port)),
            ]
        forward += [f"-i {b} -o {b} -m physdev --physdev-is-bridged -j ACCEPT" for b in bridges]
        return (
            Chain("filter", f"{p}-FORWARD", tuple(forward), hook="FORWARD"),
            Chain("filter", f"{p}-INPUT", tuple(to_host), hook="INPUT"),
            *per_port,
            Chain(
                "raw",
                f"{p}-PREROUTING",
                tuple(f"-i {b} -j CT --zone {zones[b]}" for b in bridges),
                hook="PREROUTING",
            ),
            Chain(
                "raw",
                f"{p}-OUTPUT",
                tuple(f"-o {b} -j CT --zone {zones[b]}" for b in bridges),
                hook="OUTPUT",
            ),
        )

    def _ingress(self, port: Port) -> tuple[str, ...]:
        if self.family == 4:
            exempt = ["-p udp -m udp --sport 67 --dport 68 -j RETURN"]  # DHCP replies
        else:
            exempt = [_icmp6(t, "RETURN") for t in _NDP_IN]
            exempt.append("-p udp -m udp --sport 547 --dport 546 -j RETURN")  # DHCPv6 replies
        return _unique([_ESTABLISHED, *exempt, _INVALID, *self._rules(port, "ingress"), "-j DROP"])

    def _egress(self, port: Port) -> tuple[str, ...]:
        if self.family == 4:
            exempt = [
                "-p udp -m udp --sport 68 --dport 67 -j RETURN",  # DHCP client
                "-p udp -m udp --sport 67 --dport 68 -j DROP",  # no DHCP server in a port
            ]
        else:
            exempt = [_icmp6(134, "DROP"), *(_icmp6(t, "RETURN") for t in _NDP_OUT)]
            exempt.append("-p udp -m udp --sport 546 --dport 547 -j RETURN")
            exempt.append("-p udp -m udp --sport 547 --dport 546 -j DROP")
        spoofing = f"-j {self.prefix}-s-{port.device}"
        return _unique(
            [spoofing, *exempt, _ESTABLISHED, _INVALID, *self._rules(port, "egress"), "-j DROP"]
        )

    def _spoofing(self, port: Port) -> tuple[str, ...]:
        own = port.mac_address.lower()
        pairs = [(own, ip) for ip in port.fixed_ips]
        pairs += [
            ((a.mac_address or own).lower(), a.ip_address) for a in port.allowed_address_pairs
        ]
        if self.family == 6:
            pairs += [(mac, _link_local(mac)) for mac in sorted({m for m, _ in pairs} | {own})]
        out = [
            f"-s {_network(ip)} -m mac --mac-source {mac} -j RETURN"
            for mac, ip in pairs
            if _version(ip) == self.family
        ]
        if self.family == 4:  # DHCP before the port has an address
            out.append(
                "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 "
                f"-m mac --mac-source {own} -j RETURN"
            )
        else:  # duplicate address detection and MLD before the port has an address
            out.append(f"-s ::/128 -d ff02::/16 -p ipv6-icmp -m mac --mac-source {own} -j RETURN")
        out.append("-j DROP")
        return _unique(out)

    def _rules(self, port: Port, direction: str) -> list[str]:
        out = []
        for group in port.security_groups:
            for rule in self.ruleset.rules.get(group, ()):
                if rule.direction not in ("ingress", "egress") or rule.ethertype not in _ETHERTYPE:
                    raise ValueError(f"bad direction or ethertype in {rule}")
                if rule.direction == direction and _ETHERTYPE[rule.ethertype] == self.family:
                    out.append(self._rule(rule))
        return out

    def _rule(self, rule: Rule) -> str:
        """One rule as iptables match arguments ending in RETURN."""
        parts: list[str] = []
        proto = _protocol_number(rule.protocol, self.family)
        if proto is not None:
            parts.append(f"-p {_PROTOCOL_NAMES.get(proto, proto)}")
            if proto == _ICMP[self.family]:
                parts += _icmp_match(proto, rule)
            elif rule.port_range_min is not None or rule.port_range_max is not None:
                parts += _port_match(proto, rule)
        source = rule.direction == "ingress"
        if rule.remote_ip_prefix is not None and rule.remote_group_id is not None:
            raise ValueError("a rule names a remote IP prefix or a remote group, not both")
        if rule.remote_ip_prefix is not None:
            net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
            if net.version != self.family:
                raise ValueError(f"remote prefix {net} is not {rule.ethertype}")
            if net.prefixlen:
                parts.append(f"{'-s' if source else '-d'} {net}")
        if rule.remote_group_id is not None:
            name = self._set(rule.remote_group_id)
            parts.append(f"-m set --match-set {name} {'src' if source else 'dst'}")
        parts.append("-j RETURN")
        return " ".join(parts)

    def _set(self, group: str) -> str:
        """The set of ``group``'s members of this family, made once however many rules use it."""
        name = ipsets.set_name(self.prefix, self.family, group)
        if name not in self.sets:
            members = self.ruleset.members.get(group, ())
            found = tuple(m for m in members if _version(m) == self.family)
            self.sets[name] = ipsets.IpSet(name, self.family, found)
        return name


def _identity(port: Port) -> spoofing.Identity:
    pair_macs = (a.mac_address for a in port.allowed_address_pairs if a.mac_address)
    ipv4 = tuple(a for a in _claimed(port) if _version(a) == 4)
    return spoofing.Identity(port.device, (port.mac_address, *pair_macs), ipv4)


def _version(address: str) -> int:
    return ipaddress.ip_network(address, strict=False).version


def _claimed(port: Port) -> list[str]:
    """Every address or network a port may send from: fixed IPs and allowed pairs."""
    return [*port.fixed_ips, *(a.ip_address for a in port.allowed_address_pairs)]


def _protocol_number(protocol: str | int | None, family: int) -> int | None:
    if protocol is None or protocol in ("any", "0", 0):
        return None
    if isinstance(protocol, int) or protocol.isdigit():
        number = int(protocol)
    elif protocol.lower() in _PROTOCOLS:
        number = _PROTOCOLS[protocol.lower()]
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    if number in _ICMP.values():  # "icmp" in an IPv6 rule means ICMPv6
        if family == 4 and number == _ICMP[6]:
            raise ValueError("ICMPv6 in an IPv4 rule")
        return _ICMP[family]
    return number


def _icmp_match(proto: int, rule: Rule) -> list[str]:
    if rule.port_range_min is None:
        return []
    kind = f"{rule.port_range_min}"
    if rule.port_range_max is not None:
        kind += f"/{rule.port_range_max}"
    return ["-m icmp --icmp-type", kind] if proto == 1 else ["-m icmp6 --icmpv6-type", kind]


def _port_match(proto: int, rule: Rule) -> list[str]:
    if proto not in _PORT_PROTOCOLS:
        raise ValueError(f"protocol {proto} has no ports")
    low, high = rule.port_range_min, rule.port_range_max
    if low is None or high is None or not 1 <= low <= high <= 65535:
        raise ValueError(f"bad port range {low}-{high}")
    ports = str(low) if low == high else f"{low}:{high}"
    return [f"-m {_PORT_PROTOCOLS[proto]} --dport {ports}"]


def _icmp6(icmp_type: int, verdict: str) -> str:
    return f"-p ipv6-icmp -m icmp6 --icmpv6-type {icmp_type} -j {verdict}"


def _network(address: str) -> str:
    return str(ipaddress.ip_network(address, strict=False))


def _link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address a port with this MAC configures for itself."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + bytes(eui)))


def _unique(lines: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(lines))


def _device(port: Port) -> str:
    return port.device


def _installed_zones(installed: iptables.Installed, prefix: str) -> dict[str, int]:
    """Bridge -> conntrack zone, from our raw PREROUTING rules (``-i BR -j CT --zone N``)."""
    zones = {}
    for rule in installed.rules.get(("raw", f"{prefix}-PREROUTING"), []):
        words = rule.split()
        if words[:1] == ["-i"] and words[-2:-1] == ["--zone"]:
            zones[words[1]] = int(words[-1])
    return zones


def _ensure_bridge_netfilter() -> None:
    """Make bridged frames visible to iptables and ip6tables (Docker turns this on, but a
    host without Docker may have it off)."""
    if not _BRIDGE_NF.is_dir():
        raise HostError("br_netfilter is not loaded: bridged frames would bypass security groups")
    for family in ("iptables", "ip6tables"):
        knob = _BRIDGE_NF / f"bridge-nf-call-{family}"
        if knob.read_text().strip() != "1":
            knob.write_text("1\n")
