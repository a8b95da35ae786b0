"""The data-plane scenario: instances (namespaces) on project networks get their fixed
IPs by DHCP and reach each other as the networks, the router, floating IPs and security
groups say; the agents survive a restart; deleting everything leaves nothing behind.

The tests share one topology and run in order; the last one tears it all down.

- network A (demo, 10.61.1.0/24): vm1 (default + web groups), vm2 (default)
- network B (demo, 10.61.2.0/24): vm3 (default)
- network C (other project, also 10.61.1.0/24): vm4
- router R (demo): interfaces on A and B, gateway on ``public``; vm1 has a floating IP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from stratus.host import dnsmasq, namespaces
from stratus.host.names import bridge_name
from stratus.host.netlink import FLOOD_MAC, Netlink
from stratus.network import public
from stratus.network.agent import devices
from stratus.network.agent.dhcp import DhcpAgent
from stratus.network.agent.l2 import L2Agent
from stratus.network.plugging import PlugError, Tap, Veth, device_name, peer_name

if TYPE_CHECKING:
    from tests.host.network_agents.conftest import Cloud, Instance

from tests.host.network_agents.conftest import eventually

pytestmark = pytest.mark.host


@dataclass
class Topology:
    public: dict[str, Any]
    a: dict[str, Any]
    b: dict[str, Any]
    c: dict[str, Any]
    router: dict[str, Any]
    web: dict[str, Any]
    vm1: Instance
    vm2: Instance
    vm3: Instance
    vm4: Instance
    fip: dict[str, Any]


@pytest.fixture(scope="module")
def net(cloud: Cloud) -> Iterator[Topology]:
    public_id = public.ensure_public_network(cloud.runtime, cloud.users["admin"].project_id)
    assert public_id is not None
    cloud.network_ids.append(public_id)
    a = cloud.network("a", "10.61.1.0/24")
    b = cloud.network("b", "10.61.2.0/24")
    c = cloud.network("c", "10.61.1.0/24", user="other")
    web = cloud.create("security_group", name="web")
    for rule in ({"protocol": "icmp"}, {"protocol": "tcp", "port_range_min": 8080}):
        rule.setdefault("port_range_max", rule.get("port_range_min"))
        cloud.create(
            "security_group_rule", security_group_id=web["id"], direction="ingress", **rule
        )
    router = cloud.create("router", name="r", external_gateway_info={"network_id": public_id})
    for network in (a, b):
        body = {"subnet_id": network["subnets"][0]}
        cloud.ok("PUT", f"routers/{router['id']}/add_router_interface", json=body)
    vm2 = cloud.instance("vm2", a["id"])
    (default,) = cloud.ok("GET", "security-groups?name=default")["security_groups"]
    vm1 = cloud.instance("vm1", a["id"], security_groups=[default["id"], web["id"]])
    vm3 = cloud.instance("vm3", b["id"])
    vm4 = cloud.instance("vm4", c["id"], user="other", fixed_ips=[{"ip_address": "10.61.1.250"}])
    fip = cloud.create("floatingip", floating_network_id=public_id, port_id=vm1.port["id"])
    cloud.sync()
    yield Topology(
        cloud.ok("GET", f"networks/{public_id}")["network"],
        a,
        b,
        c,
        router,
        web,
        vm1,
        vm2,
        vm3,
        vm4,
        fip,
    )


def test_instances_take_their_fixed_ips_by_dhcp_and_ports_go_active(
    cloud: Cloud, net: Topology
) -> None:
    for vm in (net.vm1, net.vm2, net.vm3, net.vm4):
        assert vm.ip == vm.port["fixed_ips"][0]["ip_address"]
        assert cloud.port(vm.port["id"])["status"] == "ACTIVE"
    assert net.vm4.ip == "10.61.1.250"
    dhcp_ports = cloud.ok("GET", "ports?device_owner=network:dhcp", "admin")["ports"]
    assert {p["status"] for p in dhcp_ports} == {"ACTIVE"}
    assert eventually(
        lambda: cloud.ok("GET", f"floatingips/{net.fip['id']}")["floatingip"]["status"] == "ACTIVE"
    )


def test_instances_on_one_network_reach_each_other(cloud: Cloud, net: Topology) -> None:
    assert cloud.ping(net.vm1.namespace, net.vm2.ip)
    assert cloud.ping(net.vm2.namespace, net.vm1.ip)


def test_a_port_whose_admin_state_is_down_is_cut_off(cloud: Cloud, net: Topology) -> None:
    port = f"ports/{net.vm2.port['id']}"
    cloud.ok("PUT", port, json={"port": {"admin_state_up": False}})
    cloud.sync()
    assert cloud.port(net.vm2.port["id"])["status"] == "DOWN"
    assert not cloud.ping(net.vm1.namespace, net.vm2.ip)
    cloud.ok("PUT", port, json={"port": {"admin_state_up": True}})
    cloud.sync()
    assert cloud.port(net.vm2.port["id"])["status"] == "ACTIVE"
    assert cloud.ping(net.vm1.namespace, net.vm2.ip)


def test_another_projects_network_is_isolated(cloud: Cloud, net: Topology) -> None:
    # vm4's subnet has the same CIDR as network A: only the bridges keep them apart.
    assert not cloud.ping(net.vm4.namespace, net.vm1.ip)
    assert not cloud.ping(net.vm1.namespace, net.vm4.ip)


def test_a_router_joins_two_networks(cloud: Cloud, net: Topology) -> None:
    assert cloud.ping(net.vm1.namespace, net.vm3.ip)
    assert cloud.ping(net.vm3.namespace, net.vm2.ip)


def test_the_host_reaches_a_floating_ip_and_instances_reach_out_through_snat(
    cloud: Cloud, net: Topology
) -> None:
    address = net.fip["floating_ip_address"]
    assert cloud.ping(None, address)
    listener = cloud.listen(None, cloud.public_gateway, 18080)
    gateway_ip = cloud.ok("GET", f"routers/{net.router['id']}")["router"]["external_gateway_info"][
        "external_fixed_ips"
    ][0]["ip_address"]
    assert cloud.peer_seen(listener, net.vm3.namespace, cloud.public_gateway, 18080) == gateway_ip
    assert cloud.peer_seen(listener, net.vm1.namespace, cloud.public_gateway, 18080) == address


def test_security_group_rules_allow_and_deny_as_written(cloud: Cloud, net: Topology) -> None:
    address = net.fip["floating_ip_address"]
    cloud.listen(net.vm1.namespace, "0.0.0.0", 8080)
    cloud.listen(net.vm1.namespace, "0.0.0.0", 8081)
    assert cloud.connect(None, address, 8080)  # web allows TCP 8080 from anywhere
    assert not cloud.connect(None, address, 8081)  # nothing allows 8081
    # The default group lets in anything from its members (vm3, routed from network B).
    assert cloud.connect(net.vm3.namespace, net.vm1.ip, 8081)
    rules = cloud.ok("GET", f"security-group-rules?security_group_id={net.web['id']}")
    (icmp,) = [r for r in rules["security_group_rules"] if r["protocol"] == "icmp"]
    cloud.ok("DELETE", f"security-group-rules/{icmp['id']}")
    eventually(lambda: not cloud.ping(None, address))
    cloud.create(
        "security_group_rule",
        security_group_id=net.web["id"],
        direction="ingress",
        protocol="icmp",
    )
    eventually(lambda: cloud.ping(None, address))


def test_spoofed_addresses_and_macs_are_dropped(cloud: Cloud, net: Topology) -> None:
    vm2 = net.vm2
    with Netlink(vm2.namespace) as inside:
        inside.ensure_address(vm2.eth, "10.61.1.222/24")
        try:
            assert not cloud.ping(vm2.namespace, net.vm1.ip, source="10.61.1.222")
        finally:
            inside.delete_address(vm2.eth, "10.61.1.222/24")
        own = vm2.port["mac_address"]
        inside.set_link(vm2.eth, mac="fa:16:3e:00:00:01")
        try:
            assert not cloud.ping(vm2.namespace, net.vm1.ip)
        finally:
            inside.set_link(vm2.eth, mac=own)
    assert eventually(lambda: cloud.ping(vm2.namespace, net.vm1.ip), timeout=5)


def test_vxlan_peers_get_flood_entries(cloud: Cloud, net: Topology) -> None:
    """l2 population: a port of network A bound on another host adds that host's VTEP.
    The peer is an address nobody answers on the public bridge (not a loopback address:
    this host would take its own frames back, and its bridge would learn them)."""
    peer = cloud.public_gateway.rsplit(".", 1)[0] + ".250"
    cloud.bus.call(
        "network.server",
        "report_state",
        agent={
            "agent_type": "Linux bridge agent",
            "binary": "stratus-l2-agent",
            "host": f"{cloud.host}-2",
            "topic": "network.l2_agent",
            "configurations": {"tunnel_types": ["vxlan"], "tunneling_ip": peer},
            "start_flag": True,
        },
    )
    elsewhere = cloud.create(
        "port", "admin", network_id=net.a["id"], **{"binding:host_id": f"{cloud.host}-2"}
    )
    vxlan = devices.vxlan_device(net.a["id"])
    cloud.sync()
    with Netlink() as host:
        assert (FLOOD_MAC, peer) in host.fdb_entries(vxlan)
    cloud.ok("DELETE", f"ports/{elsewhere['id']}", "admin")
    cloud.sync()
    with Netlink() as host:
        assert host.fdb_entries(vxlan) == []


def test_a_vlan_network_fails_clearly_on_a_kernel_without_8021q(
    cloud: Cloud, net: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    vlan = cloud.create(
        "network",
        "admin",
        name="vlan",
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "vlanphys",
            "provider:segmentation_id": 42,
        },
    )
    cloud.create("subnet", "admin", network_id=vlan["id"], cidr="10.61.9.0/24", ip_version=4)
    with caplog.at_level(logging.ERROR, logger="stratus.network.agent.l2"):
        port = cloud.create(
            "port", "admin", network_id=vlan["id"], **{"binding:host_id": cloud.host}
        )
        cloud.sync()
    messages = [r.getMessage() for r in caplog.records]
    assert any(vlan["id"] in m and "8021q" in m for m in messages), messages
    assert cloud.port(port["id"])["status"] == "DOWN"
    assert cloud.ping(net.vm1.namespace, net.vm2.ip)  # the rest of the host goes on
    cloud.ok("DELETE", f"ports/{port['id']}", "admin")
    cloud.ok("DELETE", f"networks/{vlan['id']}", "admin")


def test_a_flat_network_bridges_the_mapped_interface(cloud: Cloud, net: Topology) -> None:
    """The mapped interface (one end of a veth whose other end is in a namespace standing
    in for a machine on that segment) joins the flat network's bridge, and leaves it, but
    stays, when the network goes: it is not the agent's."""
    interface = f"{cloud.token}p0"
    outside = cloud.namespace("outside")
    with Netlink() as host:
        host.ensure_veth(interface, "eth0", peer_namespace=outside)
    with Netlink(outside) as inside:
        inside.set_link("eth0", up=True)
        inside.ensure_address("eth0", "10.61.7.200/24")
    flat = cloud.create(
        "network",
        "admin",
        name="flat",
        **{"provider:network_type": "flat", "provider:physical_network": "flatphys"},
    )
    cloud.create("subnet", "admin", network_id=flat["id"], cidr="10.61.7.0/24", ip_version=4)
    vm5 = cloud.instance("vm5", flat["id"], "admin")
    with Netlink() as host:
        assert interface in host.bridges()[bridge_name(flat["id"])]
    assert cloud.ping(vm5.namespace, "10.61.7.200")
    cloud.remove_instance(vm5)
    cloud.ok("DELETE", f"ports/{vm5.port['id']}", "admin")
    cloud.ok("DELETE", f"networks/{flat['id']}", "admin")
    cloud.sync()
    with Netlink() as host:
        assert host.index(bridge_name(flat["id"])) is None
        link = host.link(interface)
        assert link is not None and link.master is None


def test_a_tap_is_plugged_and_unplugged(cloud: Cloud, net: Topology) -> None:
    """What compute does for a VM: the same interface, with a tap."""
    port = cloud.create("port", network_id=net.b["id"], name="tap")
    tap = Tap(device_name(port["id"]))
    plugged = cloud.plugging.plug(port["id"], tap, device_id="vm", device_owner="compute:nova")
    assert plugged.active and plugged.bridge == bridge_name(net.b["id"])
    assert plugged.port["binding:host_id"] == cloud.host and plugged.mtu == net.b["mtu"]
    with Netlink() as host:
        link = host.link(tap.name)
        assert link is not None and link.kind == "tun" and link.mtu == net.b["mtu"]
        assert tap.name in host.bridges()[plugged.bridge]
    with pytest.raises(PlugError, match="must be named"):
        cloud.plugging.plug(port["id"], Tap("tapnotitsname"))
    cloud.plugging.unplug(port["id"], tap)
    with Netlink() as host:
        assert host.index(tap.name) is None
    assert cloud.port(port["id"])["binding:host_id"] == ""
    cloud.plugging.unplug(port["id"], tap)  # again: nothing left to do
    cloud.ok("DELETE", f"ports/{port['id']}")


def test_a_port_bound_here_already_is_not_bound_again(cloud: Cloud, net: Topology) -> None:
    """What compute does when it made the port bound: no binding and no reads the caller
    spares; attach, then one L2 agent pass (the domain runs paused in between), whose
    agent says what it reported of the port (no read of it either)."""
    port = cloud.create("port", network_id=net.b["id"], name="bound")
    tap = Tap(device_name(port["id"]))
    owner = {"device_id": "vm", "device_owner": "compute:nova"}
    first = cloud.plugging.plug(port["id"], tap, **owner)
    api, calls = cloud.plugging.api, []

    class Recording:
        def request(self, method: str, path: str, **kwargs: Any) -> Any:
            calls.append((method, path))
            return api.request(method, path, **kwargs)

    cloud.plugging.api = Recording()
    try:
        attached = cloud.plugging.attach(port["id"], tap, port=first.port, mtu=first.mtu, **owner)
        assert calls == [] and not attached.active and attached.bridge == first.bridge
        [wired] = cloud.plugging.wait_wired([attached])
        assert wired.active and calls == []
        assert wired.port["status"] == cloud.port(port["id"])["status"] == "ACTIVE"
        cloud.plugging.plug(port["id"], tap, device_id="vm2", wait=None)  # another owner
        assert ("PUT", f"/v2.0/ports/{port['id']}") in calls
    finally:
        cloud.plugging.api = api
    assert cloud.port(port["id"])["device_id"] == "vm2"
    cloud.plugging.unplug(port["id"], tap)
    with Netlink() as host:
        assert host.index(tap.name) is None
    cloud.ok("DELETE", f"ports/{port['id']}")


def test_a_port_whose_firewall_is_in_force_is_wired_without_a_pass(
    cloud: Cloud, net: Topology
) -> None:
    """What the container agent arranges by binding a port before Docker plugs it: the
    L2 agent's pass that installs the port's security groups has run by then, so wiring
    only checks the device and reports the port ACTIVE. A port bound a moment ago, not in
    force yet, still gets a pass."""
    [l2] = [r for r in cloud.runners if isinstance(r.agent, L2Agent)]
    passes: list[bool] = []
    reconcile = l2.agent.reconcile

    def counted(full: bool) -> None:
        passes.append(full)
        reconcile(full)

    ahead = cloud.create("port", network_id=net.b["id"], name="ahead")
    binding = {"port": {"binding:host_id": cloud.host}}
    cloud.ok("PUT", f"ports/{ahead['id']}", "admin", json=binding)
    late = cloud.create("port", network_id=net.b["id"], name="late")
    cloud.sync()
    assert cloud.port(ahead["id"])["status"] == "DOWN"  # its device is not there yet
    l2.agent.reconcile = counted  # type: ignore[method-assign]
    try:
        tap = Tap(device_name(ahead["id"]))
        [wired] = cloud.plugging.wait_wired([cloud.plugging.attach(ahead["id"], tap)])
        assert wired.active and passes == []
        assert cloud.port(ahead["id"])["status"] == "ACTIVE"
        late_tap = Tap(device_name(late["id"]))
        [wired] = cloud.plugging.wait_wired([cloud.plugging.attach(late["id"], late_tap)])
        assert wired.active and passes  # as the pass reported it to the server:
        assert wired.port["status"] == cloud.port(late["id"])["status"] == "ACTIVE"
    finally:
        l2.agent.reconcile = reconcile  # type: ignore[method-assign]
    for port, device in ((ahead, tap), (late, late_tap)):
        cloud.plugging.unplug(port["id"], device)
        cloud.ok("DELETE", f"ports/{port['id']}")


def test_a_new_port_reaches_dnsmasq_without_its_veth_wired_again(
    cloud: Cloud, net: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hinted DHCP pass for a network whose own DHCP port is unchanged only tells
    dnsmasq of the ports; a full pass checks the namespace and veth again."""
    [dhcp] = [r for r in cloud.runners if isinstance(r.agent, DhcpAgent)]
    passes: list[tuple[bool, list[str]]] = []  # (full, veths wired during it)
    reconcile, wire_veth = dhcp.agent.reconcile, devices.wire_veth

    def counted(full: bool) -> None:
        passes.append((full, []))
        reconcile(full)

    def wire(host: Netlink, bridge: str | None, device: str, *args: Any, **kw: Any) -> None:
        passes[-1][1].append(device)
        wire_veth(host, bridge, device, *args, **kw)

    monkeypatch.setattr(dhcp.agent, "reconcile", counted)
    monkeypatch.setattr(devices, "wire_veth", wire)
    (served,) = cloud.ok("GET", f"ports?device_owner=network:dhcp&network_id={net.b['id']}")[
        "ports"
    ]
    port = cloud.create("port", network_id=net.b["id"], name="newcomer")
    cloud.sync()
    hosts = dnsmasq.Dnsmasq(cloud.state_path / "dhcp", net.b["id"]).hosts_file.read_text()
    assert port["mac_address"] in hosts
    hinted = [wired for full, wired in passes if not full]
    assert hinted and all(devices.port_device(served["id"]) not in w for w in hinted)
    dhcp.agent.reconcile(True)
    assert devices.port_device(served["id"]) in passes[-1][1]
    cloud.ok("DELETE", f"ports/{port['id']}")


def test_ports_plugged_at_once_all_go_active(cloud: Cloud, net: Topology) -> None:
    ports = [cloud.create("port", network_id=net.b["id"], name=f"many{i}") for i in range(4)]
    veths = [
        Veth(device_name(p["id"]), peer_name(p["id"]), cloud.namespace(f"many{i}"))
        for i, p in enumerate(ports)
    ]
    with ThreadPoolExecutor(len(ports)) as pool:
        plugged = list(pool.map(cloud.plugging.plug, [p["id"] for p in ports], veths))
    assert [p.active for p in plugged] == [True] * len(ports)
    for port, veth in zip(ports, veths, strict=True):
        cloud.plugging.unplug(port["id"], veth)
        namespaces.delete(veth.namespace)
        cloud.ok("DELETE", f"ports/{port['id']}")


def test_a_port_that_cannot_be_bound_here_leaves_no_device(cloud: Cloud, net: Topology) -> None:
    nowhere = cloud.create(
        "network",
        "admin",
        name="unmapped",
        **{"provider:network_type": "flat", "provider:physical_network": "unmapped"},
    )
    port = cloud.create("port", "admin", network_id=nowhere["id"])
    tap = Tap(device_name(port["id"]))
    with pytest.raises(PlugError, match="cannot be bound"):
        cloud.plugging.plug(port["id"], tap)
    with Netlink() as host:
        assert host.index(tap.name) is None
    cloud.ok("DELETE", f"ports/{port['id']}", "admin")
    cloud.ok("DELETE", f"networks/{nowhere['id']}", "admin")


def test_restarted_agents_converge_and_remove_orphans(cloud: Cloud, net: Topology) -> None:
    cloud.stop_agents()
    # While no agent runs: network C and its instance go, the router loses a veth.
    cloud.remove_instance(net.vm4)
    cloud.ok("DELETE", f"ports/{net.vm4.port['id']}", "other")
    cloud.ok("DELETE", f"networks/{net.c['id']}", "other")
    with Netlink() as host:
        router_port = next(
            p
            for p in cloud.ok("GET", f"ports?device_id={net.router['id']}", "admin")["ports"]
            if p["network_id"] == net.b["id"]
        )
        host.delete_link(devices.port_device(router_port["id"]))
        assert host.index(bridge_name(net.c["id"])) is not None  # an orphan, for now
    cloud.start_agents()
    assert not namespaces.exists(f"qdhcp-{net.c['id']}")
    assert net.c["id"] not in dnsmasq.running_networks(cloud.state_path / "dhcp")
    with Netlink() as host:
        assert host.index(bridge_name(net.c["id"])) is None
    assert cloud.ping(net.vm1.namespace, net.vm3.ip)
    assert cloud.ping(net.vm1.namespace, net.vm2.ip)
    assert cloud.ping(None, net.fip["floating_ip_address"])


def test_deleting_everything_leaves_nothing_on_the_host(cloud: Cloud, net: Topology) -> None:
    cloud.ok("DELETE", f"floatingips/{net.fip['id']}")
    for vm in list(cloud.instances):
        cloud.remove_instance(vm)
        cloud.ok("DELETE", f"ports/{vm.port['id']}")
    for network in (net.a, net.b):
        body = {"subnet_id": network["subnets"][0]}
        cloud.ok("PUT", f"routers/{net.router['id']}/remove_router_interface", json=body)
    cloud.ok("DELETE", f"routers/{net.router['id']}")
    for network in (net.a, net.b):
        cloud.ok("DELETE", f"networks/{network['id']}")
    cloud.ok("DELETE", f"networks/{net.public['id']}", "admin")
    cloud.sync()
    assert cloud.leftovers() == []
