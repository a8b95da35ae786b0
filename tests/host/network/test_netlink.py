"""Links, namespaces, FDB entries, addresses and routes on the real kernel."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from stratus.host import namespaces
from stratus.host.errors import HostError
from stratus.host.netlink import FLOOD_MAC, Netlink

if TYPE_CHECKING:
    from tests.host.network.conftest import Lab

pytestmark = pytest.mark.host


def netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def test_namespaces_create_list_run_in_and_delete(lab: Lab) -> None:
    name = lab.namespace(f"qdhcp-{lab.token}n1")
    namespaces.create(name)  # again: no error
    assert namespaces.exists(name)
    assert namespaces.names(f"qdhcp-{lab.token}") == [name]
    assert namespaces.run_in(name, netns_inode) != netns_inode()
    with Netlink(name) as ns:
        assert ns.link_names() == ["lo"]
    with pytest.raises(ZeroDivisionError):
        namespaces.run_in(name, lambda: 1 / 0)
    namespaces.delete(name)
    namespaces.delete(name)
    assert not namespaces.exists(name)
    with pytest.raises(HostError):
        namespaces.run_in(name, print)


def test_bridges_veths_taps_are_idempotent_and_listed(lab: Lab) -> None:
    _, bridge = lab.network("a")
    assert lab.host.ensure_bridge(bridge) == lab.host.index(bridge)
    ns = lab.namespace(f"{lab.token}-vm")
    tap, veth = f"{lab.token}tap", f"{lab.token}veth"
    assert lab.host.ensure_tap(tap, mtu=1400) == lab.host.ensure_tap(tap, mtu=1400)
    first = lab.host.ensure_veth(veth, "eth0", peer_namespace=ns)
    assert lab.host.ensure_veth(veth, "eth0", peer_namespace=ns) == first
    lab.host.attach(tap, bridge)
    lab.host.attach(veth, bridge)
    lab.host.attach(veth, bridge)
    lab.host.ensure_tap(tap)  # still a port of the bridge afterwards
    assert lab.host.bridges(f"brq{lab.token}") == {bridge: sorted([tap, veth])}
    lab.host.set_link(tap, mac="fa:16:3e:12:34:56", mtu=1450)
    link = lab.host.link(tap)
    assert link is not None and (link.kind, link.mac, link.mtu, link.up) == (
        "tun",
        "fa:16:3e:12:34:56",
        1450,
        True,
    )
    assert link.master == lab.host.index(bridge)
    assert lab.host.in_bridge(tap, bridge) and not lab.host.in_bridge(f"{lab.token}none", bridge)
    lab.host.detach(tap)
    assert lab.host.bridges(f"brq{lab.token}") == {bridge: [veth]}
    assert not lab.host.in_bridge(tap, bridge) and lab.host.in_bridge(veth, bridge)
    with Netlink(ns) as inside:
        assert "eth0" in inside.link_names()
    lab.host.delete_link(tap)
    lab.host.delete_link(tap)
    assert lab.host.index(tap) is None


def test_bridges_lists_only_bridges_and_only_on_the_host(lab: Lab) -> None:
    _, full = lab.network("b")
    _, empty = lab.network("c")
    port = lab.tap(f"{lab.token}port")
    lab.tap(f"brq{lab.token}tap")  # the bridges' prefix, but not a bridge
    lab.host.attach(port, full)
    assert lab.host.bridges(f"brq{lab.token}") == {full: [port], empty: []}
    with Netlink(lab.namespace(f"{lab.token}-br")) as inside, pytest.raises(HostError):
        inside.bridges()


def test_links_move_into_a_namespace_with_addresses_and_routes(lab: Lab) -> None:
    ns = lab.namespace(f"qrouter-{lab.token}r1")
    dev = f"{lab.token}qr"
    lab.host.ensure_tap(dev)
    lab.host.move_to_namespace(dev, ns)
    lab.host.move_to_namespace(dev, ns)  # already there
    assert lab.host.index(dev) is None
    with Netlink(ns) as inside:
        inside.set_link(dev, up=True)
        inside.set_addresses(dev, ["10.80.0.1/24", "fd80::1/64"])
        inside.ensure_address(dev, "10.80.0.1/24")
        assert inside.addresses(dev) == ["10.80.0.1/24", "fd80::1/64"]
        inside.set_addresses(dev, ["10.80.0.2/24"])
        assert inside.addresses(dev) == ["10.80.0.2/24"]
        inside.ensure_route("10.81.0.0/16", gateway="10.80.0.254")
        inside.ensure_route("10.81.0.0/16", gateway="10.80.0.253")  # replaced
        inside.ensure_route("0.0.0.0/0", gateway="10.80.0.254", device=dev)
        routes = inside.routes()
        assert routes["10.81.0.0/16"] == "10.80.0.253"
        assert routes["0.0.0.0/0"] == "10.80.0.254"
        assert routes["10.80.0.0/24"] is None
        inside.delete_route("10.81.0.0/16")
        inside.delete_route("10.81.0.0/16")
        assert "10.81.0.0/16" not in inside.routes()
        inside.delete_address(dev, "10.80.0.2/24")
        assert inside.addresses(dev) == []


def test_vlan_subinterface(lab: Lab) -> None:
    ns = lab.namespace(f"{lab.token}-phys")
    parent = f"{lab.token}phys"
    lab.plug(ns, lab.network("p")[1], parent)
    try:
        lab.host.ensure_vlan(f"{parent}.42", parent, 42)
    except HostError as e:
        if "not supported" in str(e):
            pytest.skip("this kernel has no 802.1Q VLAN support")
        raise
    lab.host.ensure_vlan(f"{parent}.42", parent, 42)
    link = lab.host.link(f"{parent}.42")
    assert link is not None and link.kind == "vlan"


def test_vxlan_reaches_remote_hosts_only_through_fdb_entries(lab: Lab) -> None:
    h1, h2 = lab.namespace(f"{lab.token}-h1"), lab.namespace(f"{lab.token}-h2")
    with Netlink(h1) as one, Netlink(h2) as two:
        one.ensure_veth("underlay", "underlay", peer_namespace=h2)
        two.set_link("underlay", up=True)
        one.ensure_address("underlay", "10.90.0.1/24")
        two.ensure_address("underlay", "10.90.0.2/24")
        for side, local in ((one, "10.90.0.1"), (two, "10.90.0.2")):
            side.ensure_vxlan("vx", 4242, local, underlay="underlay")
            assert side.ensure_vxlan("vx", 4242, local, underlay="underlay") == side.index("vx")
        one.ensure_address("vx", "10.91.0.1/24")
        two.ensure_address("vx", "10.91.0.2/24")
        assert not lab.ping(h1, "10.91.0.2", timeout=0.3)  # no entries: no flooding

        one.ensure_fdb("vx", FLOOD_MAC, "10.90.0.2")
        one.ensure_fdb("vx", FLOOD_MAC, "10.90.0.2")
        one.ensure_fdb("vx", FLOOD_MAC, "10.90.0.9")  # a second remote host
        two.ensure_fdb("vx", FLOOD_MAC, "10.90.0.1")
        assert one.fdb_entries("vx") == [(FLOOD_MAC, "10.90.0.2"), (FLOOD_MAC, "10.90.0.9")]
        assert lab.ping(h1, "10.91.0.2")

        # l2 population: unicast entries per MAC instead of flooding
        mac_one, mac_two = one.link("vx").mac, two.link("vx").mac
        for side, remote in ((one, "10.90.0.2"), (two, "10.90.0.1")):
            side.delete_fdb("vx", FLOOD_MAC, remote)
            side.delete_fdb("vx", FLOOD_MAC, remote)
        one.delete_fdb("vx", FLOOD_MAC, "10.90.0.9")
        one.ensure_fdb("vx", mac_two, "10.90.0.9")
        one.ensure_fdb("vx", mac_two, "10.90.0.2")  # replaces the wrong destination
        two.ensure_fdb("vx", mac_one, "10.90.0.1")
        assert one.fdb_entries("vx") == [(mac_two, "10.90.0.2")]
        assert lab.ping(h1, "10.91.0.2")  # neighbours are still cached from the flood phase
        one.delete_fdb("vx", mac_two, "10.90.0.2")
        assert not lab.ping(h1, "10.91.0.2", timeout=0.3)

        # a device that differs from what is asked is made again
        old = one.index("vx")
        assert one.ensure_vxlan("vx", 4343, "10.90.0.1", underlay="underlay") != old
