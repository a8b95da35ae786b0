"""Security groups between namespaces on one bridge, under a DROP verdict for bridged frames
(what Docker's FORWARD policy gives): rules, remote groups, spoofing, port security."""

from __future__ import annotations

import dataclasses
import socket
import struct
import time
from typing import TYPE_CHECKING

import pytest

from stratus.host import commands, firewall, ipsets, iptables, namespaces
from stratus.host.firewall import Port, Rule, Ruleset
from stratus.host.netlink import Netlink

if TYPE_CHECKING:
    from tests.host.network.conftest import Lab

pytestmark = pytest.mark.host

RULES = {
    "web": (
        Rule(
            "ingress",
            protocol="tcp",
            port_range_min=8000,
            port_range_max=8000,
            remote_ip_prefix="10.60.0.0/24",
        ),
        Rule("ingress", protocol="icmp", port_range_min=8, remote_group_id="client"),
        Rule("ingress", ethertype="IPv6", protocol="icmp", remote_group_id="client"),
    ),
    "client": (Rule("egress"), Rule("egress", ethertype="IPv6")),
    "other": (Rule("egress"), Rule("egress", ethertype="IPv6")),
}
SHORT = 0.4  # seconds to wait for what must not arrive
ETH_P_ARP = 0x0806


def arp_answered(mac: str, sender_ip: str, target_ip: str, timeout: float = 1.0) -> bool:
    """Broadcast an ARP request from eth0 (sender ``mac``/``sender_ip``): is it answered?"""
    hw = bytes.fromhex(mac.replace(":", ""))
    sender, target = socket.inet_aton(sender_ip), socket.inet_aton(target_ip)
    request = b"\xff" * 6 + hw + struct.pack("!H", ETH_P_ARP)
    request += struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + sender + bytes(6) + target
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind(("eth0", 0))
        sock.send(request)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame = sock.recv(128)
            except TimeoutError:
                break
            op, reply_sender, reply_target = frame[20:22], frame[28:32], frame[38:42]
            if op == b"\x00\x02" and (reply_sender, reply_target) == (target, sender):
                return True
    return False


def test_rules_remote_groups_spoofing_and_port_security(lab: Lab) -> None:
    network_id, bridge = lab.network("sg")
    lab.drop_bridged(bridge)
    a = lab.instance(bridge, "a", addresses=("10.60.0.1/24", "fd60::1/64"))
    b = lab.instance(bridge, "b", addresses=("10.60.0.2/24", "fd60::2/64"))
    c = lab.instance(bridge, "c", addresses=("10.60.0.3/24", "fd60::3/64"))
    port_a = Port(
        a.device, network_id, a.mac, ("10.60.0.1", "fd60::1"), security_groups=("client",)
    )
    port_b = Port(b.device, network_id, b.mac, ("10.60.0.2", "fd60::2"), security_groups=("web",))
    port_c = Port(c.device, network_id, c.mac, ("10.60.0.3", "fd60::3"), security_groups=("other",))
    members = {"client": ("10.60.0.1", "fd60::1"), "web": ("10.60.0.2", "fd60::2")}
    ruleset = Ruleset(ports=(port_a, port_b, port_c), rules=RULES, members=members)
    firewall.apply(ruleset, prefix=lab.prefix)
    applied = firewall.apply(ruleset, prefix=lab.prefix)  # idempotent
    lab.listen(b.namespace, "10.60.0.2", 8000)
    lab.listen(b.namespace, "10.60.0.2", 8001)

    # ICMP from the remote group only, both families; replies pass as established
    assert lab.ping(a.namespace, "10.60.0.2")
    assert lab.ping(a.namespace, "fd60::2")
    assert not lab.ping(c.namespace, "10.60.0.2", timeout=SHORT)
    # TCP by port and remote prefix
    assert lab.connect(a.namespace, "10.60.0.2", 8000)
    assert lab.connect(c.namespace, "10.60.0.2", 8000)
    assert not lab.connect(a.namespace, "10.60.0.2", 8001, timeout=SHORT)
    # no egress rule: b may answer, not start
    assert not lab.ping(b.namespace, "10.60.0.1", timeout=SHORT)

    # a spoofed source address, then a spoofed MAC, are dropped at a's port
    with Netlink(a.namespace) as ns:
        ns.ensure_address("eth0", "10.60.0.99/24")
        assert not lab.ping(a.namespace, "10.60.0.2", source="10.60.0.99", timeout=SHORT)
        ns.set_link("eth0", mac="fa:16:3e:66:66:66")
        assert not lab.ping(a.namespace, "10.60.0.2", timeout=SHORT)
        ns.set_link("eth0", mac=a.mac)
    assert lab.ping(a.namespace, "10.60.0.2")
    # nor may a claim b's address in ARP (which iptables never sees)
    assert namespaces.run_in(a.namespace, arp_answered, a.mac, "10.60.0.1", "10.60.0.3")
    assert not namespaces.run_in(a.namespace, arp_answered, a.mac, "10.60.0.2", "10.60.0.3", SHORT)

    # From here on each batch is written against the one before (as the L2 agent's hinted
    # passes do): only what changed. Group membership changes swap the set's contents.
    grown = dataclasses.replace(ruleset, members={**members, "client": ("10.60.0.1", "10.60.0.3")})
    applied = firewall.apply(grown, prefix=lab.prefix, previous=applied)
    assert lab.ping(c.namespace, "10.60.0.2")
    # port security off: no filtering at all for that port
    open_b = dataclasses.replace(port_b, port_security_enabled=False)
    changed = dataclasses.replace(grown, ports=(port_a, open_b, port_c))
    applied = firewall.apply(changed, prefix=lab.prefix, previous=applied)
    assert lab.connect(a.namespace, "10.60.0.2", 8001)
    # control: with a's port security off too, the spoofed source gets through
    open_a = dataclasses.replace(port_a, port_security_enabled=False)
    changed = dataclasses.replace(grown, ports=(open_a, open_b, port_c))
    applied = firewall.apply(changed, prefix=lab.prefix, previous=applied)
    assert lab.ping(a.namespace, "10.60.0.2", source="10.60.0.99")
    assert namespaces.run_in(a.namespace, arp_answered, a.mac, "10.60.0.2", "10.60.0.3")
    # the batches of changes left exactly what one whole batch installs
    saved = {f: iptables.read(f, lab.prefix) for f in firewall.FAMILIES}
    firewall.apply(changed, prefix=lab.prefix)
    assert {f: iptables.read(f, lab.prefix) for f in firewall.FAMILIES} == saved

    firewall.remove_all(prefix=lab.prefix)
    for tool in ("iptables-save", "ip6tables-save"):
        assert f"{lab.prefix}-" not in commands.run([tool])
    assert ipsets.names(lab.prefix) == []
    assert f"table bridge {lab.prefix}" not in commands.run(["nft", "list", "tables"]).splitlines()
    assert not lab.ping(a.namespace, "10.60.0.2", timeout=SHORT)  # only the DROP is left


def test_each_network_bridge_keeps_its_own_conntrack_zone(lab: Lab) -> None:
    one, bridge_one = lab.network("z1")
    two, bridge_two = lab.network("z2")
    ports = (
        Port(f"{lab.token}p1", one, "fa:16:3e:00:00:01"),
        Port(f"{lab.token}p2", two, "fa:16:3e:00:00:02"),
    )

    def zones() -> dict[str, str]:
        raw = commands.run(["iptables-save", "-t", "raw"]).splitlines()
        prefix = f"-A {lab.prefix}-PREROUTING -i "
        return {line.split()[3]: line.split()[-1] for line in raw if line.startswith(prefix)}

    firewall.apply(Ruleset(ports=ports), prefix=lab.prefix)
    before = zones()
    assert set(before) == {bridge_one, bridge_two} and len(set(before.values())) == 2
    firewall.apply(Ruleset(ports=(ports[0],)), prefix=lab.prefix)
    assert zones() == {bridge_one: before[bridge_one]}
    firewall.apply(Ruleset(ports=ports), prefix=lab.prefix)
    assert zones()[bridge_one] == before[bridge_one]
