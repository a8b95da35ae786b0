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

from common import HandNetwork, exit_on_sigterm, print_table

from stratus.host.netlink import Netlink
from stratus.network.agent import devices
from stratus.network.plugging import Veth, device_name, peer_name
from stratus.testing.network import NetworkStack, missing_tools, running_stack

PORTS = 12
HAND_CIDR = "10.62.0.0/24"


def wire_by_hand(stack: NetworkStack, hand: HandNetwork, index: int) -> tuple[str, str]:
    """Wire one more namespace into the hand-made network; its name and the veth end inside."""
    namespace = stack.namespace(f"hand{index}")
    device, peer = f"{stack.token}h{index}", f"vifh{index}"
    mac = f"fa:16:3e:00:63:{index:02x}"
    with Netlink() as host:
        devices.wire_veth(host, hand.bridge, device, peer, namespace=namespace, mac=mac, mtu=None)
    hand.serve(device, mac, hand.address(index))
    return namespace, peer


def ms(seconds: list[float]) -> list[float]:
    ordered = sorted(s * 1000 for s in seconds)
    return [statistics.median(ordered), ordered[int(len(ordered) * 0.9)], max(ordered)]


def main() -> None:
    exit_on_sigterm()
    if missing_tools():
        sys.exit(f"missing tools: {' '.join(missing_tools())}")
    with running_stack() as stack:
        network = stack.network("bench", "10.61.0.0/24")
        hand = HandNetwork(stack.token, stack.state_path, HAND_CIDR)
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
                namespace, peer = wire_by_hand(stack, hand, index)
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
