"""A qrouter namespace joins two tenant subnets and an external bridge that has an address
on the host: east-west routing, SNAT out of the gateway port, and a floating IP."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import pytest

from stratus.host import nat
from stratus.host.firewall import Port, Rule, Ruleset, apply
from stratus.host.names import router_namespace
from stratus.host.netlink import Netlink
from stratus.testing.network import unrouted_cidr

if TYPE_CHECKING:
    from tests.host.network.conftest import Lab

pytestmark = pytest.mark.host

OPEN = {"open": (Rule("ingress", protocol="tcp"), Rule("ingress", protocol="icmp"), Rule("egress"))}


def test_router_routes_snats_and_maps_a_floating_ip(lab: Lab) -> None:
    ext = ipaddress.ip_network(unrouted_cidr())
    host_ip, gw_ip, fip = (str(ext[n]) for n in (1, 2, 5))
    net1, br1 = lab.network("r1")
    net2, br2 = lab.network("r2")
    netx, brx = lab.network("rx")
    lab.host.ensure_address(brx, f"{host_ip}/24")
    for bridge in (br1, br2):
        lab.drop_bridged(bridge)

    router = lab.namespace(router_namespace(f"{lab.token}r"))
    lab.plug(router, br1, f"{lab.token}qr1", "qr-1", addresses=("10.71.0.1/24",))
    lab.plug(router, br2, f"{lab.token}qr2", "qr-2", addresses=("10.72.0.1/24",))
    lab.plug(router, brx, f"{lab.token}qg", "qg-1", addresses=(f"{gw_ip}/24",))
    with Netlink(router) as ns:
        ns.ensure_route("0.0.0.0/0", gateway=host_ip)
        ns.ensure_address("qg-1", f"{fip}/32")
    nat.enable_forwarding(router)
    rules = nat.RouterNat(
        gateway_device="qg-1",
        gateway_ip=gw_ip,
        internal_cidrs=("10.71.0.0/24", "10.72.0.0/24"),
        floating_ips=(nat.FloatingIp(fip, "10.72.0.10"),),
    )
    nat.apply(router, rules, prefix=lab.prefix)
    nat.apply(router, rules, prefix=lab.prefix)  # idempotent

    a = lab.instance(br1, "a", addresses=("10.71.0.10/24",), gateway="10.71.0.1")
    b = lab.instance(br2, "b", addresses=("10.72.0.10/24",), gateway="10.72.0.1")
    router_ports = [
        Port(f"{lab.token}{name}", net, "fa:16:3e:00:00:01", port_security_enabled=False)
        for name, net in (("qr1", net1), ("qr2", net2), ("qg", netx))
    ]
    vm_ports = [
        Port(a.device, net1, a.mac, ("10.71.0.10",), security_groups=("open",)),
        Port(b.device, net2, b.mac, ("10.72.0.10",), security_groups=("open",)),
    ]
    apply(Ruleset(ports=(*router_ports, *vm_ports), rules=OPEN), prefix=lab.prefix)

    # east-west: routed, addresses kept
    listener_b = lab.listen(b.namespace, "10.72.0.10", 8080)
    assert lab.ping(a.namespace, "10.72.0.10")
    assert lab.connect(a.namespace, "10.72.0.10", 8080)
    assert listener_b.accept()[1][0] == "10.71.0.10"

    # out through the gateway: a takes the router's address, b its floating IP
    listener_host = lab.listen(None, host_ip, 8081)
    assert lab.connect(a.namespace, host_ip, 8081)
    assert listener_host.accept()[1][0] == gw_ip
    assert lab.connect(b.namespace, host_ip, 8081)
    assert listener_host.accept()[1][0] == fip

    # in through the floating IP, from the host side
    assert lab.connect(None, fip, 8080)
    assert listener_b.accept()[1][0] == host_ip

    nat.remove(router, prefix=lab.prefix)
    assert not lab.connect(None, fip, 8080, timeout=0.4)
