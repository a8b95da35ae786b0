"""Port bind to ACTIVE with its DHCP entry served, against the same wiring done by hand in
the same run (needs root; see ``stratus.testing.network``).

Stratus: a port exists (made through the API, which also hands the DHCP agent its
entry, and the agents are done with it). The clock runs from ``plug()`` -- binding
through the network API, the bridge and the veth, the L2 agent's pass (security groups
in force, port ACTIVE) -- to the first DHCP lease the namespace behind the veth gets.

By hand, on a bridge and a dnsmasq of its own: a veth into the bridge, the port's
security group chains in one firewall batch, its dnsmasq host entry (SIGHUP), then the
same DHCP lease. The two alternate, so that both see the same load on the host.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid

from common import print_table

from stratus.host import dnsmasq, firewall
from stratus.host.dnsmasq import DhcpConfig, Dnsmasq, Subnet
from stratus.host.names import bridge_name
from stratus.host.netlink import Netlink
from stratus.network.agent import devices
from stratus.network.plugging import Veth, device_name, peer_name
from stratus.testing.network import NetworkStack, missing_tools, running_stack

PORTS = 12
HAND_CIDR = "10.62.0.0/24"
GROUP = {"g": (firewall.Rule("ingress", remote_group_id="g"), firewall.Rule("egress"))}


class ByHand:
    """A bridge, a namespace with dnsmasq on a veth into it, and the ports wired so far."""

    def __init__(self, stack: NetworkStack) -> None:
        self.stack = stack
        self.network_id = str(uuid.uuid4())
        self.bridge = bridge_name(self.network_id)
        self.prefix = stack.token + "h"
        self.dhcp = Dnsmasq(stack.state_path / "by-hand", self.network_id)
        self.ports: list[firewall.Port] = []
        self.hosts: list[dnsmasq.Host] = []
        self.config = DhcpConfig(
            f"{stack.token}-hand-dhcp", "ns-hand", (Subnet(HAND_CIDR, "10.62.0.1"),)
        )

    def start(self) -> None:
        namespace = self.stack.namespace("hand-dhcp")
        with Netlink() as host:
            host.ensure_bridge(self.bridge)
            devices.wire_veth(
                host,
                self.bridge,
                f"{self.stack.token}hd",
                "ns-hand",
                namespace=namespace,
                mac="fa:16:3e:00:62:02",
                mtu=None,
                addresses=["10.62.0.2/24"],
            )
        self.dhcp.ensure(self.config, [])

    def wire(self, index: int) -> tuple[str, str]:
        """Wire one more namespace; its name and the veth end inside."""
        namespace = self.stack.namespace(f"hand{index}")
        device, peer = f"{self.stack.token}h{index}", f"vifh{index}"
        mac = f"fa:16:3e:00:63:{index:02x}"
        address = f"10.62.0.{10 + index}"
        with Netlink() as host:
            devices.wire_veth(
                host, self.bridge, device, peer, namespace=namespace, mac=mac, mtu=None
            )
        self.ports.append(
            firewall.Port(device, self.network_id, mac, (address,), security_groups=("g",))
        )
        members = {"g": tuple(a for p in self.ports for a in p.fixed_ips)}
        ruleset = firewall.Ruleset(tuple(self.ports), GROUP, members)
        firewall.apply(ruleset, prefix=self.prefix)
        self.hosts.append(dnsmasq.Host(mac, (address,)))
        self.dhcp.ensure(self.config, self.hosts)
        return namespace, peer

    def close(self) -> None:
        self.dhcp.stop()
        firewall.remove_all(prefix=self.prefix)
        with Netlink() as host:
            host.delete_link(self.bridge)


def ms(seconds: list[float]) -> list[float]:
    ordered = sorted(s * 1000 for s in seconds)
    return [statistics.median(ordered), ordered[int(len(ordered) * 0.9)], max(ordered)]


def main() -> None:
    if missing_tools():
        sys.exit(f"missing tools: {' '.join(missing_tools())}")
    with running_stack() as stack:
        network = stack.network("bench", "10.61.0.0/24")
        hand = ByHand(stack)
        try:
            hand.start()
            timings: dict[str, list[float]] = {k: [] for k in ("plug", "lease", "hand", "hl")}
            for index in range(PORTS):
                port = stack.create("port", network_id=network["id"], name=f"p{index}")
                namespace = stack.namespace(f"port{index}")
                veth = Veth(device_name(port["id"]), peer_name(port["id"]), namespace)
                stack.sync()  # the agents are done with the new port: the clock is the bind's
                start = time.perf_counter()
                plugged = stack.plugging.plug(port["id"], veth, device_owner="compute:nova")
                wired = time.perf_counter()
                assert plugged.active, plugged.port["status"]
                stack.lease(namespace, veth.peer)
                timings["plug"].append(wired - start)
                timings["lease"].append(time.perf_counter() - start)

                start = time.perf_counter()
                namespace, peer = hand.wire(index)
                wired = time.perf_counter()
                stack.lease(namespace, peer)
                timings["hand"].append(wired - start)
                timings["hl"].append(time.perf_counter() - start)
        finally:
            hand.close()
    stratus, by_hand = ms(timings["lease"]), ms(timings["hl"])
    print_table(
        f"Port bind to ACTIVE with DHCP served ({PORTS} ports, ms)",
        ["path", "p50", "p90", "max"],
        [
            ["stratus: plug() -> ACTIVE", *ms(timings["plug"])],
            ["stratus: ... + DHCP lease", *stratus],
            ["by hand: veth, firewall, dnsmasq", *ms(timings["hand"])],
            ["by hand: ... + DHCP lease", *by_hand],
            [
                "ratio stratus / by hand (with lease)",
                *(s / h for s, h in zip(stratus, by_hand, strict=True)),
            ],
        ],
    )


if __name__ == "__main__":
    main()
