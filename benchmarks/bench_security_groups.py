"""Applying a security group change on a host with 200 ports and 1,000 rules, against a
plain ``iptables-restore`` of a flat ruleset of the same size in the same run (needs
root; see ``stratus.testing.network``).

The ports are made through the network API, bound to the stack's host, spread over 10
security groups of 100 rules each (TCP/UDP port ranges from prefixes, ICMP, IPv6, and
rules naming another group as remote, which become ipsets); each has a real tap device
that the L2 agent puts into the network's bridge (the agents are stopped while the ports
are made and started again afterwards, as after a restart). DHCP is off on the subnet.

- end to end: a rule added through the API, then one pass of the L2 agent (it re-reads
  its state from the server, renders and applies it); the agents' threads are stopped
  and the pass is run directly, so exactly one pass is timed;
- ``firewall.render`` of the host's whole ruleset (as the L2 agent builds it) alone;
- ``firewall.apply`` of it with one more rule each time (render, ``iptables-save``,
  ``ipset restore``, one ``iptables-restore`` per family, ``nft``);
- baseline: one chain holding as many rules as the rendered batch, per family, loaded
  with ``iptables-restore --noflush`` (and parsed only, with ``--test``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from common import exit_on_sigterm, print_table

from stratus.host import commands, firewall, iptables
from stratus.host.names import bridge_name
from stratus.host.netlink import Netlink
from stratus.network import topics
from stratus.network.agent import devices
from stratus.network.agent.l2 import L2Agent, ruleset_of
from stratus.testing.network import NetworkStack, missing_tools, running_stack

PORTS = 200
GROUPS = 10
RULES_PER_GROUP = 100  # with the two egress rules every new group starts with
REPEAT = 5
UNLIMITED = "[quotas]\n" + "".join(
    f"quota_{name} = -1\n" for name in ("port", "security_group", "security_group_rule")
)


def group_rule(group: int, index: int, groups: list[str]) -> dict[str, Any]:
    """A distinct rule of each kind in turn."""
    prefix = f"10.{100 + group}.{index}.0/24"
    kind = index % 5
    if kind == 0:
        remote = {"remote_group_id": groups[(group + 1) % len(groups)]}
        return {"direction": "ingress", "protocol": "tcp", **_ports(2000 + index), **remote}
    if kind == 1:
        return {"direction": "ingress", "protocol": "udp", **_ports(3000 + index, 3010 + index)}
    if kind == 2:
        return {"direction": "ingress", "protocol": "icmp", "remote_ip_prefix": prefix}
    if kind == 3:
        v6 = f"fd00:{group:x}:{index:x}::/64"
        return {"direction": "ingress", "ethertype": "IPv6", "protocol": "tcp", **_ports(22)} | {
            "remote_ip_prefix": v6
        }
    return {
        "direction": "egress",
        "protocol": "tcp",
        "remote_ip_prefix": prefix,
        **_ports(1000 + index, 1100 + index),
    }


def _ports(low: int, high: int | None = None) -> dict[str, int]:
    return {"port_range_min": low, "port_range_max": low if high is None else high}


def build_host(stack: NetworkStack) -> tuple[list[str], dict[str, Any]]:
    """The groups and ports, wired by the agents; the groups' ids and the network."""
    network = stack.create("network", "admin", name="sg-bench")
    subnet = {"network_id": network["id"], "cidr": "10.99.0.0/22", "ip_version": 4}
    stack.create("subnet", "admin", enable_dhcp=False, **subnet)
    groups = [stack.create("security_group", "admin", name=f"g{g}")["id"] for g in range(GROUPS)]
    for g, group in enumerate(groups):
        for index in range(RULES_PER_GROUP - 2):
            rule = group_rule(g, index, groups)
            stack.create("security_group_rule", "admin", security_group_id=group, **rule)
    stack.stop_agents()  # a pass per port made would apply 200 growing rulesets
    with Netlink() as host:
        for index in range(PORTS):
            port = stack.create(
                "port",
                "admin",
                network_id=network["id"],
                security_groups=[groups[index % GROUPS]],
                device_owner="compute:nova",
                **{"binding:host_id": stack.host},
            )
            host.ensure_tap(devices.port_device(port["id"]))
    stack.start_agents()
    active = [p for p in stack.ok("GET", "ports", "admin")["ports"] if p["status"] == "ACTIVE"]
    assert len(active) == PORTS, f"{len(active)} of {PORTS} ports ACTIVE"
    return groups, network


def timed(step: Callable[[int], object]) -> list[float]:
    """``step(i)`` for i in range(REPEAT); each one's seconds."""
    out = []
    for index in range(REPEAT):
        start = time.perf_counter()
        step(index)
        out.append(time.perf_counter() - start)
    return out


def flat_batch(chain: str, family: int, rules: int) -> str:
    """One chain of ``rules`` distinct rules of the kind security groups render."""
    source = "10.{}.{}.{}/32" if family == 4 else "fd00::{:x}:{:x}:{:x}/128"
    lines = [
        f"-A {chain} -s {source.format(i >> 16, (i >> 8) & 255, i & 255)} "
        f"-p tcp -m tcp --dport {1 + i % 65535} -j RETURN"
        for i in range(rules)
    ]
    return "\n".join(["*filter", f":{chain} - [0:0]", *lines, "COMMIT", ""])


def restore(family: int, batch: str, *flags: str) -> None:
    tool = "iptables-restore" if family == 4 else "ip6tables-restore"
    commands.run([tool, *flags], stdin=batch)


def main() -> None:
    if missing_tools():
        sys.exit(f"missing tools: {' '.join(missing_tools())}")
    exit_on_sigterm()
    with running_stack(UNLIMITED) as stack:
        direct, flat = stack.token + "f", stack.token + "x"
        try:
            rows, title = measure_all(stack, direct, flat)
        finally:
            firewall.remove_all(prefix=direct)
            for family in firewall.FAMILIES:
                iptables.remove(family, flat)
    print_table(title, ["path", "p50 ms", "max ms", "x baseline (p50)"], rows)


def measure_all(stack: NetworkStack, direct: str, flat: str) -> tuple[list[list[object]], str]:
    started = time.perf_counter()
    groups, network = build_host(stack)
    built = time.perf_counter() - started

    stack.stop_agents()
    agent = L2Agent(stack.conf, stack.bus)
    agent.reconcile(full=True)  # what a restarted agent does first

    def add_rule(index: int) -> None:
        rule = {"direction": "ingress", "protocol": "tcp", **_ports(40000 + index)}
        stack.create("security_group_rule", "admin", security_group_id=groups[0], **rule)
        agent.reconcile(full=False)

    end_to_end = timed(add_rule)
    ruleset = ruleset_of(stack.bus.call(topics.SERVER, "get_l2_state", agent_host=stack.host))
    rule_count = sum(len(rules) for rules in ruleset.rules.values())
    zones = firewall.assign_zones([bridge_name(network["id"])], {})
    batch = firewall.render(ruleset, zones=zones, prefix=direct)
    render = timed(lambda _: firewall.render(ruleset, zones=zones, prefix=direct))
    firewall.apply(ruleset, prefix=direct)  # the first, which creates every chain

    def change(index: int) -> None:
        extra = firewall.Rule("ingress", protocol="tcp", **_ports(50000 + index))
        rules = {**ruleset.rules, groups[0]: (*ruleset.rules[groups[0]], extra)}
        firewall.apply(replace(ruleset, rules=rules), prefix=direct)

    apply = timed(change)
    sizes = {f: sum(len(c.rules) for c in batch.chains[f]) for f in firewall.FAMILIES}
    flats = {f: flat_batch(f"{flat}-FLAT", f, sizes[f]) for f in firewall.FAMILIES}

    def load(flags: tuple[str, ...]) -> Callable[[int], None]:
        return lambda _: [restore(f, flats[f], *flags) for f in firewall.FAMILIES]

    tested = timed(load(("--test",)))
    loaded = timed(load(("--noflush", "-w")))
    check_saved(flat, sizes)
    base = statistics.median(loaded)
    rows = [
        [name, statistics.median(s) * 1000, max(s) * 1000, statistics.median(s) / base]
        for name, s in (
            ("stratus: API rule add + L2 agent pass", end_to_end),
            ("stratus: firewall.render (whole host)", render),
            ("stratus: firewall.apply of a change", apply),
            ("baseline: flat iptables-restore --noflush", loaded),
            ("baseline: flat iptables-restore --test", tested),
        )
    ]
    title = (
        f"Security group change on one host ({PORTS} ports with taps, {rule_count} rules in "
        f"{len(ruleset.rules)} groups, {sizes[4]} IPv4 + {sizes[6]} IPv6 iptables rules, "
        f"{len(batch.sets)} ipsets; {REPEAT} changes each; host built through the API in "
        f"{built:.0f} s; DHCP off)"
    )
    return rows, title


def check_saved(flat: str, sizes: dict[int, int]) -> None:
    """The flat chains really hold every rule (the baseline did the full work)."""
    for family, tool in ((4, "iptables-save"), (6, "ip6tables-save")):
        saved = subprocess.run([tool, "-t", "filter"], capture_output=True, text=True).stdout
        count = sum(line.startswith(f"-A {flat}-FLAT ") for line in saved.splitlines())
        assert count == sizes[family], (tool, count, sizes[family])


if __name__ == "__main__":
    main()
