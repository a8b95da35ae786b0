"""The security group renderer: pure data in, chains and sets out."""

from __future__ import annotations

import pytest

from stratus.host import iptables
from stratus.host.firewall import (
    AddressPair,
    Port,
    Rule,
    Ruleset,
    assign_zones,
    render,
)
from stratus.host.ipsets import set_name

NET = "net1-aaaaaaaaaaaaaaaa"
BRIDGE = "brqnet1-aaaaaa"
WEB = Port(
    device="tapweb",
    network_id=NET,
    mac_address="FA:16:3E:00:00:01",
    fixed_ips=("10.0.0.5", "fd00::5"),
    allowed_address_pairs=(
        AddressPair("10.0.0.100/30"),
        AddressPair("10.0.0.200", "fa:16:3e:99:99:99"),
    ),
    security_groups=("web",),
)
OPEN = Port(
    device="tapopen",
    network_id="net2",
    mac_address="fa:16:3e:00:00:02",
    port_security_enabled=False,
)
RULES = {
    "web": (
        Rule("ingress", protocol="tcp", port_range_min=80, port_range_max=80),
        Rule(
            "ingress",
            protocol="tcp",
            port_range_min=8000,
            port_range_max=8100,
            remote_ip_prefix="192.0.2.0/24",
        ),
        Rule("ingress", protocol="icmp", port_range_min=8, port_range_max=0, remote_group_id="app"),
        Rule("ingress", ethertype="IPv6", protocol="icmp", remote_group_id="app"),
        Rule("egress"),
        Rule("egress", ethertype="IPv6"),
    ),
}
MEMBERS = {"app": ("10.0.1.7", "10.0.1.8", "fd00:1::7")}


def chains(ruleset: Ruleset, family: int) -> dict[str, tuple[str, ...]]:
    zones = assign_zones({f"brq{p.network_id[:11]}" for p in ruleset.ports}, current={BRIDGE: 7})
    batch = render(ruleset, zones=zones, prefix="t")
    return {c.name: c.rules for c in batch.chains[family]}


def test_filtered_port_gets_ingress_egress_and_spoofing_chains_unfiltered_none() -> None:
    v4 = chains(Ruleset(ports=(WEB, OPEN), rules=RULES, members=MEMBERS), 4)
    assert {"t-i-tapweb", "t-o-tapweb", "t-s-tapweb"} <= set(v4)
    assert not [name for name in v4 if "tapopen" in name]
    assert v4["t-FORWARD"] == (
        "-m physdev --physdev-out tapweb --physdev-is-bridged -j t-i-tapweb",
        "-m physdev --physdev-in tapweb --physdev-is-bridged -j t-o-tapweb",
        f"-i {BRIDGE} -o {BRIDGE} -m physdev --physdev-is-bridged -j ACCEPT",
        "-i brqnet2 -o brqnet2 -m physdev --physdev-is-bridged -j ACCEPT",
    )
    assert v4["t-INPUT"] == ("-m physdev --physdev-in tapweb -j t-o-tapweb",)


def test_ingress_is_stateful_and_default_deny() -> None:
    ingress = chains(Ruleset(ports=(WEB,), rules=RULES, members=MEMBERS), 4)["t-i-tapweb"]
    app = set_name("t", 4, "app")
    assert ingress == (
        "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-p udp -m udp --sport 67 --dport 68 -j RETURN",
        "-m conntrack --ctstate INVALID -j DROP",
        "-p tcp -m tcp --dport 80 -j RETURN",
        "-p tcp -m tcp --dport 8000:8100 -s 192.0.2.0/24 -j RETURN",
        f"-p icmp -m icmp --icmp-type 8/0 -m set --match-set {app} src -j RETURN",
        "-j DROP",
    )


def test_egress_checks_spoofing_first_and_allows_only_rules() -> None:
    egress = chains(Ruleset(ports=(WEB,), rules=RULES, members=MEMBERS), 4)["t-o-tapweb"]
    assert egress[0] == "-j t-s-tapweb"
    assert "-p udp -m udp --sport 67 --dport 68 -j DROP" in egress
    assert egress[-2:] == ("-j RETURN", "-j DROP")
    no_rules = chains(Ruleset(ports=(WEB,)), 4)["t-o-tapweb"]
    assert no_rules[-3:] == (
        "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-m conntrack --ctstate INVALID -j DROP",
        "-j DROP",
    )


def test_spoofing_allows_own_mac_and_addresses_pairs_and_dhcp_discovery() -> None:
    v4 = chains(Ruleset(ports=(WEB,)), 4)["t-s-tapweb"]
    assert v4 == (
        "-s 10.0.0.5/32 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        "-s 10.0.0.100/30 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        "-s 10.0.0.200/32 -m mac --mac-source fa:16:3e:99:99:99 -j RETURN",
        "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 "
        "-m mac --mac-source fa:16:3e:00:00:01 -j RETURN",
        "-j DROP",
    )
    v6 = chains(Ruleset(ports=(WEB,)), 6)["t-s-tapweb"]
    assert "-s fd00::5/128 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN" in v6
    # EUI-64 link-local addresses of the port's MAC and of the pair's MAC
    assert "-s fe80::f816:3eff:fe00:1/128 -m mac --mac-source fa:16:3e:00:00:01 -j RETURN" in v6
    assert "-s fe80::f816:3eff:fe99:9999/128 -m mac --mac-source fa:16:3e:99:99:99 -j RETURN" in v6
    assert v6[-1] == "-j DROP"


def test_ipv6_lets_neighbour_discovery_through_but_no_router_adverts_out() -> None:
    v6 = chains(Ruleset(ports=(WEB,), rules=RULES, members=MEMBERS), 6)
    ingress, egress = v6["t-i-tapweb"], v6["t-o-tapweb"]
    assert "-p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN" in ingress
    assert "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j RETURN" in ingress
    assert egress.index("-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP") < egress.index(
        "-p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN"
    )
    app6 = set_name("t", 6, "app")
    assert f"-p ipv6-icmp -m set --match-set {app6} src -j RETURN" in ingress  # "icmp" in IPv6


def test_remote_group_sets_hold_members_of_their_family() -> None:
    batch = render(
        Ruleset(ports=(WEB,), rules=RULES, members=MEMBERS), zones={BRIDGE: 1}, prefix="t"
    )
    sets = {s.name: (s.family, s.members) for s in batch.sets}
    assert sets == {
        set_name("t", 4, "app"): (4, ("10.0.1.7", "10.0.1.8")),
        set_name("t", 6, "app"): (6, ("fd00:1::7",)),
    }


def test_egress_rule_to_remote_group_matches_destination() -> None:
    rules = {
        "g": (
            Rule(
                "egress",
                protocol="udp",
                port_range_min=53,
                port_range_max=53,
                remote_group_id="dns",
            ),
        )
    }
    port = Port("tapx", NET, "fa:16:3e:00:00:03", ("10.0.0.9",), security_groups=("g",))
    egress = chains(Ruleset(ports=(port,), rules=rules), 4)["t-o-tapx"]
    assert (
        f"-p udp -m udp --dport 53 -m set --match-set {set_name('t', 4, 'dns')} dst -j RETURN"
        in egress
    )


def test_zones_per_bridge_in_raw_table() -> None:
    v4 = chains(Ruleset(ports=(WEB, OPEN)), 4)
    assert v4["t-PREROUTING"] == (f"-i {BRIDGE} -j CT --zone 7", "-i brqnet2 -j CT --zone 1")
    assert v4["t-OUTPUT"] == (f"-o {BRIDGE} -j CT --zone 7", "-o brqnet2 -j CT --zone 1")


def test_zones_are_kept_and_new_bridges_take_the_lowest_free() -> None:
    assert assign_zones(["a", "b", "c"], {"b": 1, "gone": 2}) == {"b": 1, "a": 2, "c": 3}


@pytest.mark.parametrize(
    "rule",
    [
        Rule("ingress", protocol="icmpv6"),  # ICMPv6 in an IPv4 rule
        Rule("ingress", protocol="icmp", remote_ip_prefix="10.0.0.0/8", remote_group_id="app"),
        Rule("ingress", protocol="tcp", port_range_min=90, port_range_max=80),
        Rule("ingress", protocol="gre", port_range_min=1, port_range_max=2),
        Rule("ingress", protocol="carrier-pigeon"),
        Rule("ingress", remote_ip_prefix="fd00::/64"),
        Rule("inbound"),
        Rule("ingress", ethertype="IPX"),
    ],
)
def test_bad_rules_are_refused(rule: Rule) -> None:
    with pytest.raises(ValueError):
        chains(Ruleset(ports=(WEB,), rules={"web": (rule,)}), 4)


def test_whole_batch_restores_only_our_chains() -> None:
    batch = render(
        Ruleset(ports=(WEB,), rules=RULES, members=MEMBERS), zones={BRIDGE: 1}, prefix="t"
    )
    text = iptables.restore_input(batch.chains[4], iptables.Installed())
    assert text.startswith("*filter\n:t-FORWARD - [0:0]\n")
    assert "-I FORWARD 1 -j t-FORWARD\n" in text and "-I INPUT 1 -j t-INPUT\n" in text
    assert "*raw\n" in text and "-I PREROUTING 1 -j t-PREROUTING\n" in text
    assert text.count("COMMIT\n") == 2
    assert all(
        line.split()[1].startswith("t-") or line.startswith("-I ")
        for line in text.splitlines()
        if line.startswith("-")
    )


def test_ethernet_spoofing_table_covers_filtered_ports_only() -> None:
    batch = render(Ruleset(ports=(WEB, OPEN)), zones={BRIDGE: 1, "brqnet2": 2}, prefix="t")
    assert batch.spoofing == (
        "table bridge t {}\n"
        "delete table bridge t\n"
        "table bridge t {\n"
        "\tchain prerouting {\n"
        "\t\ttype filter hook prerouting priority -300; policy accept;\n"
        '\t\tiifname vmap { "tapweb" : jump port-tapweb }\n'
        "\t}\n"
        "\tchain port-tapweb {\n"
        "\t\tether saddr != { fa:16:3e:00:00:01, fa:16:3e:99:99:99 } drop\n"
        "\t\tarp saddr ether != { fa:16:3e:00:00:01, fa:16:3e:99:99:99 } drop\n"
        "\t\tarp saddr ip != { 0.0.0.0/32, 10.0.0.5/32, 10.0.0.100/30, 10.0.0.200/32 } drop\n"
        "\t}\n"
        "}\n"
    )
