"""The compute service with the libvirt driver boots the Stratus guest for real.

The guest (tools/build-guest-image.sh) is uploaded to the image service as a kernel, a
ramdisk and a qcow2 naming them (kernel_id/ramdisk_id); a server is created through the
compute API with no network, and its whole life is driven through the API: the agent
downloads the images once into its cache, boots a qcow2 overlay with the kernel given
directly (TCG here, KVM where it works), the guest's console shows its login prompt,
the ACPI power button stops it, it starts, reboots, is snapshotted into the image
service and deleted, leaving no domain and no files. Needs root, libvirt and QEMU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.compute.virt.libvirt.driver import LibvirtDriver
from stratus.network.plugging import Plugging
from tests.api.compute.conftest import Cloud, Env, cloud, compute_tables, make_env  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 120.0


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
    instances = workdir / "instances"
    config = f"[compute]\ninstances_path = {instances}\nshutdown_timeout = 30\n"
    yield from make_env(
        cloud,
        compute_tables,
        tmp_path,
        config,
        driver_factory=lambda conf, images, network, bus: LibvirtDriver(
            conf, images, Plugging(network, bus, conf)
        ),
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


def test_guest_lifecycle(env: Env, guest: str) -> None:
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

    assert env.action(server_id, {"os-stop": None}).status_code == 202
    assert wait(env, server_id, "SHUTOFF")["OS-EXT-STS:power_state"] == 4
    assert "power button pressed" in console(env, server_id)
    assert env.action(server_id, {"os-start": None}).status_code == 202
    wait(env, server_id, "ACTIVE")
    assert env.action(server_id, {"reboot": {"type": "HARD"}}).status_code == 202
    wait(env, server_id, "ACTIVE")

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
