"""dnsmasq in a qdhcp namespace hands instances their fixed addresses, through the firewall."""

from __future__ import annotations

import dataclasses
import secrets
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from stratus.host import dnsmasq, firewall, namespaces
from stratus.host.dnsmasq import DHCPV6_STATEFUL, DhcpConfig, Dnsmasq, Host, HostRoute, Subnet
from stratus.host.firewall import Port, Rule, Ruleset
from stratus.host.names import dhcp_namespace
from stratus.host.netlink import Netlink

if TYPE_CHECKING:
    from tests.host.network.conftest import Instance, Lab

pytestmark = pytest.mark.host

SCRIPT = """#!/bin/sh
[ "$1" = bound ] && env > "$LEASE_FILE"
exit 0
"""
DEFAULT_GROUP = {"default": (Rule("ingress", remote_group_id="default"), Rule("egress"))}


def lease(instance: Instance, script: Path) -> dict[str, str]:
    """Run busybox udhcpc once in the instance; return the lease's options, address set."""
    out = script.with_name(f"{instance.namespace}.env")
    argv = [
        "busybox",
        "udhcpc",
        "-i",
        "eth0",
        "-f",
        "-q",
        "-n",
        "-t",
        "4",
        "-T",
        "1",
        "-O",
        "mtu",
        "-O",
        "staticroutes",
        "-s",
        str(script),
    ]
    done = namespaces.run_in(
        instance.namespace,
        subprocess.run,
        argv,
        env={"LEASE_FILE": str(out), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert done.returncode == 0, done.stderr
    options = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    with Netlink(instance.namespace) as ns:
        ns.ensure_address("eth0", f"{options['ip']}/{options['mask']}")
    return options


def test_instances_get_fixed_ips_and_new_hosts_need_no_restart(lab: Lab, tmp_path: Path) -> None:
    network_id, bridge = lab.network("n1")
    lab.drop_bridged(bridge)  # as under Docker: only what the firewall accepts passes
    ns = lab.namespace(dhcp_namespace(network_id))
    lab.plug(ns, bridge, f"{lab.token}dhcp", "ns-dhcp", addresses=("10.50.0.2/24",))
    vms = [lab.instance(bridge, f"vm{i}") for i in (1, 2, 3)]
    fixed = {vm.device: f"10.50.0.{10 + i}" for i, vm in enumerate(vms)}
    ports = tuple(
        Port(vm.device, network_id, vm.mac, (fixed[vm.device],), security_groups=("default",))
        for vm in vms
    )
    dhcp_port = Port(
        f"{lab.token}dhcp", network_id, "fa:16:3e:00:00:02", port_security_enabled=False
    )
    firewall.apply(
        Ruleset(
            ports=(*ports, dhcp_port),
            rules=DEFAULT_GROUP,
            members={"default": tuple(fixed.values())},
        ),
        prefix=lab.prefix,
    )

    config = DhcpConfig(
        namespace=ns,
        interface="ns-dhcp",
        subnets=(
            Subnet(
                "10.50.0.0/24",
                gateway_ip="10.50.0.1",
                dns_nameservers=("10.50.0.53",),
                host_routes=(HostRoute("169.254.169.254/32", "10.50.0.2"),),
            ),
        ),
        mtu=1450,
    )
    hosts = [Host(vm.mac, (fixed[vm.device],), f"vm{i}") for i, vm in enumerate(vms, 1)]
    server = lab.dnsmasq(network_id)
    server.ensure(config, hosts[:2])
    pid = server.pid
    assert pid is not None
    assert dnsmasq.running_networks(lab.state_dir) == [network_id]

    script = tmp_path / "udhcpc.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    first = lease(vms[0], script)
    assert first["ip"] == "10.50.0.10"
    assert first["router"] == "10.50.0.1"
    assert first["dns"].split() == ["10.50.0.53"]
    assert first["mtu"] == "1450"
    assert first["staticroutes"].split() == [
        "169.254.169.254/32",
        "10.50.0.2",
        "0.0.0.0/0",
        "10.50.0.1",
    ]
    assert lease(vms[1], script)["ip"] == "10.50.0.11"
    assert lab.ping(vms[0].namespace, "10.50.0.11")
    assert lab.ping(vms[1].namespace, "10.50.0.10")

    server.ensure(config, iter(hosts[:2]))  # nothing changed: no signal, no restart
    assert lab.ping(vms[0].namespace, "10.50.0.11")
    assert {line.split()[2] for line in server.lease_file.read_text().splitlines()} == {
        "10.50.0.10",
        "10.50.0.11",
    }
    server.ensure(config, hosts)  # one more host: files rewritten, SIGHUP
    assert server.pid == pid
    assert lease(vms[2], script)["ip"] == "10.50.0.12"
    assert lab.ping(vms[2].namespace, "10.50.0.10")

    # an address moves to another port: the old lease is released, the new port gets it
    moved = [hosts[0], dataclasses.replace(hosts[2], ip_addresses=("10.50.0.11",))]
    server.ensure(config, moved)
    assert server.pid == pid
    assert lease(vms[2], script)["ip"] == "10.50.0.11"

    wider = DhcpConfig(ns, "ns-dhcp", (Subnet("10.50.0.0/23"),))
    server.ensure(wider, hosts)  # a new range needs a new command line: restart
    assert server.pid not in (None, pid)

    server.stop()
    assert server.pid is None and not server.dir.exists()
    assert dnsmasq.running_networks(lab.state_dir) == []


def test_a_bad_config_is_reported(lab: Lab) -> None:
    network_id, bridge = lab.network("n2")
    ns = lab.namespace(dhcp_namespace(network_id))
    server = Dnsmasq(lab.state_dir, network_id)
    with pytest.raises(Exception, match="unknown interface|failed"):
        server.ensure(DhcpConfig(ns, "missing0", (Subnet("10.51.0.0/24"),)), [])
    assert server.pid is None


def solicit(mac: str) -> dict[str, list[str]]:
    """Send one DHCPv6 Solicit (client id: DUID-LL of ``mac``) from eth0 and return the
    addresses and DNS servers of the Advertise that answers it."""
    duid = struct.pack("!HH", 3, 1) + bytes.fromhex(mac.replace(":", ""))
    options = struct.pack("!HH", 1, len(duid)) + duid  # client identifier
    options += struct.pack("!HHIII", 3, 12, 1, 0, 0)  # IA_NA, IAID 1
    options += struct.pack("!HHH", 6, 2, 23)  # option request: DNS servers
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        sock.bind(("::", 546))
        sock.settimeout(1.0)
        server = ("ff02::1:2", 547, 0, socket.if_nametoindex("eth0"))
        sock.sendto(b"\x01" + secrets.token_bytes(3) + options, server)
        reply = sock.recv(2048)
    assert reply[0] == 2  # Advertise
    found: dict[str, list[str]] = {"addresses": [], "dns": []}
    for code, value in _options(reply[4:]):
        if code == 3:  # IA_NA: IAID, T1, T2, then its own options; IAADDR (5) starts with one
            found["addresses"] += [_ipv6(v[:16])[0] for c, v in _options(value[12:]) if c == 5]
        elif code == 23:
            found["dns"] += _ipv6(value)
    return found


def _ipv6(blob: bytes) -> list[str]:
    return [socket.inet_ntop(socket.AF_INET6, blob[i : i + 16]) for i in range(0, len(blob), 16)]


def _options(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        code, length = struct.unpack("!HH", data[:4])
        out.append((code, data[4 : 4 + length]))
        data = data[4 + length :]
    return out


def test_stateful_dhcpv6_offers_the_fixed_address_by_mac(lab: Lab) -> None:
    network_id, bridge = lab.network("n6")
    lab.drop_bridged(bridge)
    ns = lab.namespace(dhcp_namespace(network_id))
    lab.plug(ns, bridge, f"{lab.token}dhcp", "ns-dhcp", addresses=("fd50::2/64",))
    vm = lab.instance(bridge, "vm")
    ports = (
        Port(vm.device, network_id, vm.mac, ("fd50::10",), security_groups=("default",)),
        Port(f"{lab.token}dhcp", network_id, "fa:16:3e:00:00:02", port_security_enabled=False),
    )
    firewall.apply(Ruleset(ports=ports, rules=DEFAULT_GROUP), prefix=lab.prefix)
    subnet = Subnet("fd50::/64", dns_nameservers=("fd50::53",), ipv6_address_mode=DHCPV6_STATEFUL)
    server = lab.dnsmasq(network_id)
    server.ensure(DhcpConfig(ns, "ns-dhcp", (subnet,)), [Host(vm.mac, ("fd50::10",))])

    deadline = time.monotonic() + 10  # link-local addresses take a second or two to appear
    while True:
        try:
            offer = namespaces.run_in(vm.namespace, solicit, vm.mac)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert offer == {"addresses": ["fd50::10"], "dns": ["fd50::53"]}
