"""The compute issue's commands, as a new user runs them with the real openstack client
against a cloud started as ``make run`` starts it: the default guest image boots under
QEMU (TCG here) on a tenant network, gets its port's address from the network's DHCP
server, answers ping from the DHCP namespace and, through a router, at its floating IP
from the host; it is driven through its power states, resized, snapshotted (a second
server boots from the snapshot) and deleted, leaving no domain, tap or port behind."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import libvirt
import pytest

from stratus.compute.virt.libvirt.host import owner
from stratus.network.plugging import device_name
from stratus.testing.cloud import Cloud

pytestmark = pytest.mark.e2e

GUEST = "stratus-guest"
BOOT_TIMEOUT = 180.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(what: str, check: Callable[[], Any], timeout: float = BOOT_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def pings(address: str, namespace: str | None = None, count: int = 3) -> bool:
    command = ["ping", "-c", str(count), "-i", "0.3", "-W", "2", address]
    if namespace:
        command = ["ip", "netns", "exec", namespace, *command]
    return subprocess.run(command, capture_output=True).returncode == 0


def domains_of(host: str) -> list[str]:
    conn = libvirt.open("qemu:///system")
    try:
        return [d.name() for d in conn.listAllDomains() if owner(d) == host]
    finally:
        conn.close()


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


class Demo:
    """The demo project's view through the real client."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def __call__(self, *args: str) -> Any:
        return self.cloud.openstack(*args, cloud="stratus-demo")

    def json(self, *args: str) -> Any:
        return self(*args, "-f", "json")

    def status(self, server: str) -> str:
        return self.json("server", "show", server)["status"]

    def wait_status(self, server: str, status: str) -> None:
        wait_for(f"{server} to be {status}", lambda: self.status(server) == status)

    def console(self, server: str) -> str:
        return self("console", "log", "show", server).stdout


def fixed_ip(port: dict[str, Any]) -> str:
    return port["fixed_ips"][0]["ip_address"]


def test_a_vm_on_a_tenant_network_through_its_whole_life(cloud: Cloud) -> None:
    demo = Demo(cloud)
    net, sub, router, vm, snap, vm2 = (
        unique(p) for p in ("net1", "sub1", "r1", "vm1", "snap1", "vm2")
    )
    network = demo.json("network", "create", net)
    demo.json("subnet", "create", "--network", net, "--subnet-range", "10.0.0.0/24", sub)

    server = demo.json(
        "server", "create", "--image", GUEST, "--flavor", "m1.tiny", "--network", net, "--wait", vm
    )
    assert server["status"] == "ACTIVE"
    ports = demo.json("port", "list", "--server", vm, "--long")
    assert len(ports) == 1
    port = cloud.openstack("port", "show", ports[0]["ID"], "-f", "json")  # binding: admin only
    address = fixed_ip(port)
    assert port["status"] == "ACTIVE" and port["binding_host_id"] == cloud.host
    assert address in str(demo.json("server", "show", vm)["addresses"])
    assert domains_of(cloud.host) == [f"instance-{server['id']}"]
    assert link_exists(device_name(port["id"]))

    # The guest prints its DHCP lease (the port's address) and its login banner.
    console = wait_for(
        "the guest's lease on its console",
        lambda: (log := demo.console(vm)) and f"lease {address}/" in log and log,
    )
    assert "stratus-guest" in console

    # The default security group lets no ICMP in from outside the group: add a rule.
    namespace = f"qdhcp-{network['id']}"
    assert not pings(address, namespace, count=1)
    demo("security", "group", "rule", "create", "--protocol", "icmp", "default")
    wait_for("ping from the DHCP namespace", lambda: pings(address, namespace), timeout=30)

    # A router to the public network and a floating IP: the host reaches the guest.
    demo("router", "create", router)
    demo("router", "add", "subnet", router, sub)
    demo("router", "set", "--external-gateway", "public", router)
    floating = demo.json("floating", "ip", "create", "public")["floating_ip_address"]
    demo("server", "add", "floating", "ip", vm, floating)
    wait_for("ping of the floating IP from the host", lambda: pings(floating), timeout=60)
    # The server shows it beside its fixed address (the network service told compute).
    wait_for(
        "the floating IP in server show",
        lambda: floating in str(demo.json("server", "show", vm)["addresses"]),
    )
    listed = [s for s in demo.json("server", "list") if s["ID"] == server["id"]]
    assert floating in str(listed[0]["Networks"]) and address in str(listed[0]["Networks"])

    for action, status in [
        ("stop", "SHUTOFF"),
        ("start", "ACTIVE"),
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
        ("reboot", "ACTIVE"),
    ]:
        demo("server", action, vm)
        demo.wait_status(vm, status)
    wait_for("ping after the power cycle", lambda: pings(address, namespace), timeout=90)

    demo("server", "resize", "--flavor", "m1.small", "--wait", vm)
    assert demo.status(vm) == "VERIFY_RESIZE"
    demo("server", "resize", "revert", vm)  # the same disk runs again, with the old flavor
    demo.wait_status(vm, "ACTIVE")
    assert "m1.tiny" in str(demo.json("server", "show", vm)["flavor"])
    wait_for("ping after the reverted resize", lambda: pings(address, namespace), timeout=90)
    demo("server", "resize", "--flavor", "m1.small", "--wait", vm)
    assert demo.status(vm) == "VERIFY_RESIZE"
    demo("server", "resize", "confirm", vm)
    demo.wait_status(vm, "ACTIVE")
    assert "m1.small" in str(demo.json("server", "show", vm)["flavor"])

    image = demo.json("server", "image", "create", "--name", snap, "--wait", vm)
    assert demo.json("image", "show", image["id"])["status"] == "active"
    assert demo.json("image", "show", snap)["min_disk"] == 20  # the disk of m1.small
    second = demo.json(
        "server", "create", "--image", snap, "--flavor", "m1.small", "--network", net, "--wait", vm2
    )
    assert second["status"] == "ACTIVE"
    wait_for("the snapshot's guest on its console", lambda: "lease " in demo.console(vm2))

    port_ids = [p["ID"] for p in demo.json("port", "list", "--network", net, "--long")]
    demo("server", "remove", "floating", "ip", vm, floating)
    wait_for(
        "the floating IP gone from server show",
        lambda: floating not in str(demo.json("server", "show", vm)["addresses"]),
    )
    demo("floating", "ip", "delete", floating)
    demo("server", "delete", "--wait", vm, vm2)
    assert domains_of(cloud.host) == []
    left = {p["ID"] for p in demo.json("port", "list", "--network", net, "--long")}
    vm_ports = [p for p in port_ids if p not in left]
    assert len(vm_ports) == 2, (port_ids, left)  # both servers' ports, and only those, went
    assert not any(link_exists(device_name(p)) for p in vm_ports)

    demo("image", "delete", snap)
    demo("router", "unset", "--external-gateway", router)
    demo("router", "remove", "subnet", router, sub)
    demo("router", "delete", router)
    demo("network", "delete", net)


def test_bad_requests_are_refused_before_anything_is_held(cloud: Cloud) -> None:
    demo = Demo(cloud)
    net = unique("nosub")
    demo.json("network", "create", net)
    name = unique("bad")
    for args, words in [
        (["--image", "no-such-image", "--flavor", "m1.tiny"], "no-such-image"),
        (["--image", GUEST, "--flavor", "no-such-flavor"], "no-such-flavor"),
        (["--image", GUEST, "--flavor", "m1.tiny", "--network", "nonet"], "nonet"),
        (["--image", GUEST, "--flavor", "m1.tiny", "--key-name", "nokey"], "key_name"),
        (["--image", GUEST, "--flavor", "m1.tiny", "--network", net], "subnet"),
    ]:
        result = cloud.openstack("server", "create", *args, name, cloud="stratus-demo", check=False)
        assert result.returncode != 0, args
        assert words.lower() in result.stderr.lower(), (args, result.stderr)
    assert name not in {s["Name"] for s in demo.json("server", "list")}
    assert demo.json("port", "list", "--network", net) == []

    # A disk no host has (within the quota): ERROR with "No valid host was found".
    cloud.openstack(
        "flavor", "create", "--ram", "128", "--disk", "100000", "--vcpus", "1", "--public", name
    )
    try:
        result = cloud.openstack(
            "server", "create", "--image", GUEST, "--flavor", name, "--nic", "none",
            "--wait", name, cloud="stratus-demo", check=False,
        )  # fmt: skip
        assert result.returncode != 0
        shown = demo.json("server", "show", name)
        assert shown["status"] == "ERROR"
        assert "No valid host was found" in str(shown.get("fault"))
        demo("server", "delete", "--wait", name)
    finally:
        cloud.openstack("flavor", "delete", name)
    demo("network", "delete", net)
