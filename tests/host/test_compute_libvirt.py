"""The compute service with the libvirt driver boots the Stratus guest for real.

The guest (tools/build-guest-image.sh) is uploaded to the image service as a kernel, a
ramdisk and a qcow2 naming them (kernel_id/ramdisk_id); a server is created through the
compute API with no network, and its whole life is driven through the API: the agent
downloads the images once into its cache, boots a qcow2 overlay with the kernel given
directly (TCG here, KVM where it works), the guest's console shows its login prompt,
its serial console answers through the serial proxy's websocket, a port on a network
(an L2 agent of this test wires it into the network's bridge) is hot plugged into the
running guest and out again, the ACPI power button stops it, it starts, reboots (keeping
a port attached while stopped), is snapshotted into the image service and deleted,
leaving no domain, tap or files. A server with two ports finds both NICs at boot (hot
plugged into its paused domain) at the PCI slots a hard reboot gives them again, and a
q35 server gets its NIC at start. A server of an image whose content lies about its
format ends ERROR, leaving nothing. Needs root, libvirt and QEMU.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
import websocket

from stratus.compute import serialproxy
from stratus.compute.virt.libvirt.driver import LibvirtDriver
from stratus.host.names import bridge_name
from stratus.network import rpc, topics
from stratus.network.agent import loop
from stratus.network.agent.l2 import L2Agent
from stratus.network.plugging import Plugging, device_name
from stratus.testing.cloud import free_port
from stratus.testing.network import clean_host, isolated_config, render_ini
from tests.api.compute.conftest import (  # noqa: F401
    NETWORK_REGION,
    Cloud,
    Env,
    cloud,
    compute_tables,
    make_env,
)

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 120.0
INACTIVE = libvirt.VIR_DOMAIN_XML_INACTIVE


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A directory QEMU (user libvirt-qemu) can traverse, unlike pytest's 0700 tmp dirs."""
    path = Path(tempfile.mkdtemp(prefix="stratus-compute-libvirt-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def guest(workdir: Path, cloud: Cloud) -> str:  # noqa: F811
    """The guest in the image service; returns the id of its bootable qcow2 image."""
    out = workdir / "image"
    proc = subprocess.run(
        [str(ROOT / "tools/build-guest-image.sh"), str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"build-guest-image.sh failed:\n{proc.stdout}\n{proc.stderr}"
    manifest = json.loads((out / "stratus-guest.json").read_text())
    ids: dict[str, str] = {}
    for image in manifest["images"]:
        properties: dict[str, Any] = dict(image.get("properties", {}))
        for key in ("kernel_id", "ramdisk_id"):
            if key in properties:
                properties[key] = ids[properties[key]]
        ids[image["name"]] = cloud.create_image(
            "admin",
            data=(out / image["file"]).read_bytes(),
            name=image["name"],
            disk_format=image["disk_format"],
            container_format=image["container_format"],
            visibility="public",
            **properties,
        )
    return ids["stratus-guest"]


@pytest.fixture
def env(cloud: Cloud, compute_tables: Path, workdir: Path, tmp_path: Path) -> Iterator[Env]:  # noqa: F811
    proc = subprocess.run(
        [str(ROOT / "tools/start-daemons.sh"), "virtlogd", "libvirtd"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"start-daemons.sh failed:\n{proc.stdout}\n{proc.stderr}"
    token = "t" + secrets.token_hex(3)
    proxy_port = free_port()
    sections = {
        # A host of its own: another run's agent on this libvirt leaves its domains alone.
        "DEFAULT": {"host": f"{token}-node"},
        "compute": {"instances_path": str(workdir / "instances"), "shutdown_timeout": "30"},
        "serial_console": {
            "serialproxy_host": "127.0.0.1",
            "serialproxy_port": str(proxy_port),
            "base_url": f"ws://127.0.0.1:{proxy_port}/",
        },
        # The L2 agent's firewall, public bridge and state, apart from any other cloud's.
        **isolated_config(token),
    }
    for made in make_env(
        cloud,
        compute_tables,
        tmp_path,
        render_ini(sections),
        network_region=NETWORK_REGION,
        driver_factory=lambda conf, images, network, bus: LibvirtDriver(
            conf, images, Plugging(network, bus, conf)
        ),
    ):
        proxy = serialproxy.build_part(made.runtime)
        proxy.start()
        try:
            yield made
        finally:
            proxy.stop()
            _remove_domains(made)


def _remove_domains(env: Env) -> None:
    """Domains a failed test left behind."""
    driver: LibvirtDriver = env.driver
    for uuid in driver.list_instances(driver.hostname):
        driver.destroy({"uuid": uuid, "host": driver.hostname, "network_info": []})


@pytest.fixture
def lan(env: Env) -> Iterator[str]:
    """A network (type local: a bridge on this host only) of the demo project with a
    subnet, and this host's L2 agent, which answers the network server over the compute
    bus; everything it made on the host is removed afterwards."""
    conf = env.runtime.conf
    bus = env.runtime.bus
    admin = {"X-Auth-Token": env.users["admin"].token}
    network = {
        "name": "lan",
        "project_id": env.users["demo"].project_id,
        "provider:network_type": "local",
    }
    made = env.cloud.network.post("/v2.0/networks", json={"network": network}, headers=admin)
    assert made.status_code == 201, made.text
    network_id = made.json()["network"]["id"]
    subnet = {"network_id": network_id, "cidr": "10.77.0.0/24", "ip_version": 4}
    response = env.cloud.network.post("/v2.0/subnets", json={"subnet": subnet}, headers=admin)
    assert response.status_code == 201, response.text
    bus.serve(topics.SERVER, rpc.ServerEndpoint(env.cloud.network.app.state.backend))
    agent = loop.Runner(L2Agent(conf, bus))
    agent.start()
    port_ids: list[str] = []
    try:
        bus.call(topics.L2_AGENT, "sync", host=conf.get("DEFAULT", "host"), timeout=60, wait=55)
        yield network_id
    finally:
        agent.stop()
        _remove_domains(env)
        ports = env.cloud.network.get(
            "/v2.0/ports", params={"network_id": network_id}, headers=admin
        ).json()["ports"]
        for port in ports:
            port_ids.append(port["id"])
            env.cloud.network.delete(f"/v2.0/ports/{port['id']}", headers=admin)
        env.cloud.network.delete(f"/v2.0/networks/{network_id}", headers=admin)
        clean_host(
            conf.network_agent.owner_prefix,
            Path(conf.network_agent.state_path),
            conf.network.public_bridge,
            [network_id],
            port_ids,
        )


def console(env: Env, server_id: str) -> str:
    response = env.action(server_id, {"os-getConsoleOutput": {"length": -1}})
    assert response.status_code == 200, response.text
    return response.json()["output"]


def wait_console(env: Env, server_id: str, text: str, timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while text not in console(env, server_id):
        assert time.monotonic() < deadline, (
            f"{text!r} not on the console:\n{console(env, server_id)[-2000:]}"
        )
        time.sleep(0.5)


def wait(env: Env, server_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        server = env.show(server_id)
        if server["status"] == status and server["OS-EXT-STS:task_state"] is None:
            return server
        assert server["status"] != "ERROR", server.get("fault")
        assert time.monotonic() < deadline, f"server is {server['status']}, not {status}"
        time.sleep(0.2)


def serial_login(env: Env, server_id: str) -> None:
    """Through the URL the API hands out, as novaconsole does: a newline brings the
    guest's login prompt back."""
    body = {"remote_console": {"protocol": "serial", "type": "serial"}}
    response = env.call("POST", f"/servers/{server_id}/remote-consoles", json=body, version="2.6")
    assert response.status_code == 200, response.text
    url = response.json()["remote_console"]["url"]
    ws = websocket.create_connection(url, subprotocols=["binary", "base64"], timeout=30)
    try:
        assert ws.subprotocol == "binary"
        ws.send_binary(b"\n")
        seen = b""
        while b"login:" not in seen:
            seen += ws.recv()
    finally:
        ws.close()


def attach(env: Env, server_id: str, **item: str) -> dict[str, Any]:
    body = {"interfaceAttachment": item}
    response = env.call("POST", f"/servers/{server_id}/os-interface", json=body)
    assert response.status_code == 200, response.text
    return response.json()["interfaceAttachment"]


def detach(env: Env, server_id: str, port_id: str) -> None:
    response = env.call("DELETE", f"/servers/{server_id}/os-interface/{port_id}")
    assert response.status_code == 202, response.text


def nics(driver: LibvirtDriver, server_id: str, flags: int = 0) -> dict[str, str]:
    """The domain's NICs (its live XML, or with VIR_DOMAIN_XML_INACTIVE its config): the
    tap of each MAC address."""
    xml = ET.fromstring(driver.host.domain(server_id).XMLDesc(flags))
    return {
        nic.find("mac").get("address"): nic.find("target").get("dev")
        for nic in xml.iterfind("devices/interface")
    }


def bridge_of(device: str) -> str | None:
    master = Path(f"/sys/class/net/{device}/master")
    return master.resolve().name if master.exists() else None


def port(env: Env, port_id: str) -> dict[str, Any] | None:
    headers = {"X-Auth-Token": env.users["admin"].token}
    response = env.cloud.network.get(f"/v2.0/ports/{port_id}", headers=headers)
    return response.json()["port"] if response.status_code == 200 else None


def test_guest_lifecycle(env: Env, guest: str, lan: str) -> None:
    driver: LibvirtDriver = env.driver
    created = env.boot(wait=None, imageRef=guest, flavorRef="1", name="guest")
    server_id = created["id"]
    server = wait(env, server_id, "ACTIVE")
    assert server["OS-EXT-STS:power_state"] == 1
    wait_console(env, server_id, "login:")
    assert server_id in driver.list_instances(driver.hostname)
    disk = driver.disks.instance_dir(server_id) / "disk"
    command = ["qemu-img", "info", "--output=json", "-U", str(disk)]
    info = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    assert info["format"] == "qcow2" and info["virtual-size"] == 1024**3
    assert info["backing-filename"] == str(driver.disks.base / guest)
    serial_login(env, server_id)

    # A port made on the network, hot plugged into the running guest and out again.
    made = attach(env, server_id, net_id=lan)
    tap, mac = device_name(made["port_id"]), made["mac_addr"]
    assert nics(driver, server_id) == {mac: tap} == nics(driver, server_id, INACTIVE)
    assert bridge_of(tap) == bridge_name(lan)
    assert port(env, made["port_id"])["status"] == "ACTIVE"  # wired by the L2 agent
    detach(env, server_id, made["port_id"])
    assert nics(driver, server_id) == {} == nics(driver, server_id, INACTIVE)
    assert not Path(f"/sys/class/net/{tap}").exists() and port(env, made["port_id"]) is None

    # Plugged while the guest is paused: the guest takes it when it runs, and gives it back.
    assert env.action(server_id, {"pause": None}).status_code == 202
    wait(env, server_id, "PAUSED")
    made = attach(env, server_id, net_id=lan)
    assert nics(driver, server_id) == {made["mac_addr"]: device_name(made["port_id"])}
    assert env.action(server_id, {"unpause": None}).status_code == 202
    wait(env, server_id, "ACTIVE")
    detach(env, server_id, made["port_id"])  # waits for the guest to let go of it
    assert nics(driver, server_id) == {} == nics(driver, server_id, INACTIVE)

    assert env.action(server_id, {"os-stop": None}).status_code == 202
    assert wait(env, server_id, "SHUTOFF")["OS-EXT-STS:power_state"] == 4
    assert "power button pressed" in console(env, server_id)
    # A given port, plugged while the server is stopped: it keeps it when it runs again.
    headers = {"X-Auth-Token": env.users["demo"].token}
    given = env.cloud.network.post(
        "/v2.0/ports", json={"port": {"network_id": lan}}, headers=headers
    ).json()["port"]
    attach(env, server_id, port_id=given["id"])
    tap = device_name(given["id"])
    assert nics(driver, server_id, INACTIVE) == {given["mac_address"]: tap}
    assert bridge_of(tap) == bridge_name(lan)
    assert env.action(server_id, {"os-start": None}).status_code == 202
    wait(env, server_id, "ACTIVE")
    assert env.action(server_id, {"reboot": {"type": "HARD"}}).status_code == 202
    wait(env, server_id, "ACTIVE")
    assert nics(driver, server_id) == {given["mac_address"]: tap}

    snapshot = env.action(server_id, {"createImage": {"name": "snap"}}, version="2.45")
    assert snapshot.status_code == 202, snapshot.text
    wait(env, server_id, "ACTIVE")
    headers = {"X-Auth-Token": env.users["demo"].token}
    image = env.cloud.image.get(f"/v2/images/{snapshot.json()['image_id']}", headers=headers)
    assert image.json()["status"] == "active" and image.json()["size"] > 0

    assert env.call("DELETE", f"/servers/{server_id}").status_code == 204
    env.wait_gone(server_id)
    assert server_id not in driver.list_instances(driver.hostname)
    assert not driver.disks.instance_dir(server_id).exists()
    kept = port(env, given["id"])
    assert kept is not None and kept["device_id"] == "" and kept["binding:host_id"] == ""
    assert not Path(f"/sys/class/net/{tap}").exists()


def test_image_lying_about_its_format(env: Env, lan: str) -> None:
    """Random bytes declared qcow2: only the host can tell. The server ends ERROR with a
    fault that says so, its build's one event says what qemu-img found, and nothing is
    left of it: no domain, disk, port or claim."""
    driver: LibvirtDriver = env.driver
    image = env.cloud.create_image(
        "demo", data=secrets.token_bytes(1024**2), name="liar", disk_format="qcow2"
    )
    created = env.boot(wait=None, imageRef=image, networks=[{"uuid": lan}])
    server_id = created["id"]
    deadline = time.monotonic() + 60
    while (server := env.show(server_id))["status"] != "ERROR":
        assert server["status"] == "BUILD" and time.monotonic() < deadline, server
        time.sleep(0.2)
    # Not retried elsewhere (no host would read it better): the fault says why.
    fault = server["fault"]
    assert fault["code"] == 500 and "cannot be read as qcow2" in fault["message"], fault
    builds = env.build_events(server_id)
    assert len(builds) == 1 and "Image is not in qcow2 format" in builds[0]["traceback"]
    assert server_id not in driver.list_instances(driver.hostname)
    assert not driver.disks.instance_dir(server_id).exists()
    headers = {"X-Auth-Token": env.users["admin"].token}
    ports = env.cloud.network.get("/v2.0/ports", params={"device_id": server_id}, headers=headers)
    assert ports.json()["ports"] == []
    held = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert held["memory_mb_used"] == 0


def pci_slots(driver: LibvirtDriver, server_id: str, flags: int = 0) -> dict[str, str]:
    """The PCI slot of the domain's disk and of each NIC (by MAC address)."""
    xml = ET.fromstring(driver.host.domain(server_id).XMLDesc(flags))
    slots = {"disk": xml.find("devices/disk/address").get("slot")}
    for nic in xml.iterfind("devices/interface"):
        slots[nic.find("mac").get("address")] = nic.find("address").get("slot")
    return slots


def test_nics_are_in_place_before_the_guest_first_runs(env: Env, guest: str, lan: str) -> None:
    """The domain starts (paused) while the ports are made, and its NICs are hot plugged
    before the guest runs: the guest finds both at boot, at the PCI slots a domain defined
    with them would have -- as it is again after a hard reboot. A q35 machine, whose root
    bus takes no hot plugged NIC, gets its NIC at start."""
    driver: LibvirtDriver = env.driver
    created = env.boot(wait=None, imageRef=guest, networks=[{"uuid": lan}, {"uuid": lan}])
    server_id = created["id"]
    wait(env, server_id, "ACTIVE")
    wait_console(env, server_id, "stratus-guest ready")
    ports = env.call("GET", f"/servers/{server_id}/os-interface").json()["interfaceAttachments"]
    macs = [p["mac_addr"] for p in ports]
    assert len(macs) == 2
    shown = console(env, server_id)
    for mac in macs:
        assert f"mac {mac}" in shown
    slots = pci_slots(driver, server_id)
    assert slots["disk"] == "0x02" and sorted(slots[mac] for mac in macs) == ["0x03", "0x04"]
    assert pci_slots(driver, server_id, INACTIVE) == slots
    # eth0, the first NIC the guest enumerates, is at slot 3
    first = next(mac for mac in macs if slots[mac] == "0x03")
    assert f"eth0: no DHCP lease yet (udhcpc keeps trying) mac {first}" in shown
    assert env.action(server_id, {"reboot": {"type": "HARD"}}).status_code == 202
    wait(env, server_id, "ACTIVE")
    assert pci_slots(driver, server_id) == slots

    headers = {"X-Auth-Token": env.users["admin"].token}
    shown_image = env.cloud.image.get(f"/v2/images/{guest}", headers=headers).json()
    q35 = env.cloud.create_image(
        "admin",
        data=(driver.disks.base / guest).read_bytes(),
        name="q35",
        visibility="public",
        kernel_id=shown_image["kernel_id"],
        ramdisk_id=shown_image["ramdisk_id"],
        hw_machine_type="q35",
    )
    other = env.boot(wait=None, imageRef=q35, networks=[{"uuid": lan}])["id"]
    wait(env, other, "ACTIVE")
    wait_console(env, other, "stratus-guest ready")
    port = env.call("GET", f"/servers/{other}/os-interface").json()["interfaceAttachments"][0]
    assert f"eth0: no DHCP lease yet (udhcpc keeps trying) mac {port['mac_addr']}" in console(
        env, other
    )
    domain = ET.fromstring(driver.host.domain(other).XMLDesc(0))
    assert domain.find("os/type").get("machine").startswith("pc-q35")
    for server in (server_id, other):
        assert env.call("DELETE", f"/servers/{server}").status_code == 204
        env.wait_gone(server)
