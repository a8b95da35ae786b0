"""500 networks with one port each on one host: the time to create them through the API
until the agents have wired every port (ACTIVE), and the resident memory afterwards,
against the same number of bridges and veths made directly with pyroute2 in the same run
and a bare Python process (needs root; see ``stratus.testing.network``).

Each network is a ``local`` network (a bridge and no uplink, so that the kernel work
matches the baseline's) with a subnet with DHCP off: 500 dnsmasq processes and
namespaces are too heavy for a 2-core benchmark box. Each port is made bound to the
stack's host, and its tap is then made as a hypervisor would; the L2 agent puts it into
the network's bridge, applies the security groups of all ports and reports it ACTIVE.

The agents' threads are stopped while the API calls are made (the L2 agent's heartbeat is
kept up, as binding needs a live agent on the host) and started afterwards, as after a
restart: with the agents running, every port made hints the L2 agent, whose passes
(each re-applying the whole host's firewall) then run back to back and slow the API down
so much that after 8 minutes only 487 of the 500 networks had been made on this box.

The agents run as threads of this process, beside the network and identity APIs (the
in-process stack), so their memory is that of the whole process: its RSS is shown at
start and once every network is wired.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench_idle_memory import rss_mb
from common import exit_on_sigterm, print_table
from pyroute2 import IPRoute

from stratus.host.netlink import Netlink
from stratus.network.agent import devices
from stratus.network.agent.l2 import L2Agent
from stratus.testing.network import NetworkStack, missing_tools, running_stack

NETWORKS = 500
HEARTBEAT_EVERY = 50  # networks; well within the server's agent_down_time
CONFIG = "[ml2]\ntenant_network_types = local\n[quotas]\n" + "".join(
    f"quota_{name} = -1\n" for name in ("network", "subnet", "port")
)


def by_stratus(stack: NetworkStack) -> tuple[float, float]:
    """Seconds to make everything through the API (agents stopped), and then until the
    agents, started again, have every network's port ACTIVE."""
    stack.stop_agents()
    heartbeat = L2Agent(stack.conf, stack.bus)  # binding needs a live L2 agent on the host
    start = time.perf_counter()
    with Netlink() as host:
        for index in range(NETWORKS):
            if index % HEARTBEAT_EVERY == 0:
                heartbeat.report(start=False)
            network = stack.create("network", "admin", name=f"n{index}")
            subnet = {"network_id": network["id"], "ip_version": 4, "enable_dhcp": False}
            stack.create(
                "subnet", "admin", cidr=f"10.{64 + index // 256}.{index % 256}.0/24", **subnet
            )
            port = stack.create(
                "port",
                "admin",
                network_id=network["id"],
                device_owner="compute:nova",
                **{"binding:host_id": stack.host},
            )
            host.ensure_tap(devices.port_device(port["id"]))
    made = time.perf_counter()
    stack.start_agents()
    wired = time.perf_counter()
    ports = stack.ok("GET", "ports", "admin")["ports"]
    active = sum(p["status"] == "ACTIVE" for p in ports)
    assert active == NETWORKS, f"{active} of {NETWORKS} ports ACTIVE"
    return made - start, wired - made


def by_hand(token: str) -> float:
    """Seconds to make a bridge and a veth into it per network with pyroute2; removed
    afterwards."""
    names = [(f"{token}b{i}", f"{token}v{i}", f"{token}p{i}") for i in range(NETWORKS)]
    with IPRoute() as ip:
        try:
            start = time.perf_counter()
            for bridge, device, peer in names:
                ip.link("add", ifname=bridge, kind="bridge")
                ip.link("add", ifname=device, kind="veth", peer=peer)
                bridge_index = ip.link_lookup(ifname=bridge)[0]
                device_index = ip.link_lookup(ifname=device)[0]
                ip.link("set", index=device_index, master=bridge_index, state="up")
                ip.link("set", index=bridge_index, state="up")
            return time.perf_counter() - start
        finally:
            for bridge, device, _ in names:
                for name in (device, bridge):  # the peer goes with its veth
                    for index in ip.link_lookup(ifname=name):
                        ip.link("del", index=index)


def bare_python_mb() -> float:
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(1)
        return rss_mb(bare.pid)
    finally:
        bare.kill()
        bare.wait()


def main() -> None:
    if missing_tools():
        sys.exit(f"missing tools: {' '.join(missing_tools())}")
    exit_on_sigterm()
    bare = bare_python_mb()
    with running_stack(CONFIG) as stack:
        at_start = rss_mb(os.getpid())
        hand = by_hand(stack.token)
        api, agents = by_stratus(stack)
        wired = rss_mb(os.getpid())
    print_table(
        f"{NETWORKS} networks with one port each on one host (local networks, DHCP off on "
        "the subnets; agents in-process with the APIs)",
        ["what", "seconds", "x by hand", "RSS MB", "x bare python"],
        [
            ["by hand: pyroute2 bridge + veth each (baseline)", hand, 1.0, "", ""],
            ["bare python process (baseline)", "", "", bare, 1.0],
            ["stratus: stack started, no networks", "", "", at_start, at_start / bare],
            ["stratus: API calls and taps (agents stopped)", api, api / hand, "", ""],
            ["stratus: agents started, until every port ACTIVE", agents, agents / hand, "", ""],
            ["stratus: total", api + agents, (api + agents) / hand, wired, wired / bare],
        ],
    )


if __name__ == "__main__":
    main()
