"""Which images a server boots from, and the disks the libvirt driver makes on them: each
accepted disk format read as QEMU's format for it (with the real qemu-img), and images
whose content lies about its format, or names other files, refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stratus.compute.disk_formats import QEMU_FORMATS, unbootable
from stratus.compute.virt.driver import VirtError
from stratus.compute.virt.libvirt.disks import Disks

MIB = 1024**2
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


@pytest.mark.parametrize("disk_format", sorted(QEMU_FORMATS))
@pytest.mark.parametrize("container_format", ["bare", "ovf"])
def test_bootable(disk_format: str, container_format: str) -> None:
    image = {"disk_format": disk_format, "container_format": container_format}
    assert unbootable(image) is None


@pytest.mark.parametrize(
    ("container_format", "disk_format", "why"),
    [
        ("docker", "raw", "is a container image (container_format docker)"),
        ("aki", "aki", "is a kernel image (disk_format aki)"),
        ("bare", "ari", "is a ramdisk image (disk_format ari)"),
        ("bare", "ploop", "has disk_format ploop, which servers cannot boot from"),
        ("bare", None, "has disk_format None"),
        ("compressed", "qcow2", "has container_format compressed"),
    ],
)
def test_unbootable(container_format: str, disk_format: str | None, why: str) -> None:
    message = unbootable({"container_format": container_format, "disk_format": disk_format})
    assert message is not None and message.startswith(why), message


class _Images:
    """Downloads copy files made by the test."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files
        self.downloaded: list[str] = []

    def download(self, image_id: str, dest: Path) -> None:
        self.downloaded.append(image_id)
        shutil.copy(self.files[image_id], dest)


def _info(path: Path, fmt: str) -> dict[str, object]:
    command = ["qemu-img", "info", "--output=json", "-U", "-f", fmt, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def _disks(tmp_path: Path, **files: Path) -> tuple[Disks, _Images]:
    images = _Images(files)
    return Disks(tmp_path / "instances", images), images  # type: ignore[arg-type]


@needs_qemu_img
@pytest.mark.parametrize("disk_format", sorted(QEMU_FORMATS))
def test_overlay_reads_its_image_as_qemu_format(tmp_path: Path, disk_format: str) -> None:
    qemu_format = QEMU_FORMATS[disk_format]
    made = tmp_path / "made"
    subprocess.run(["qemu-img", "create", "-q", "-f", qemu_format, str(made), "24M"], check=True)
    disks, _ = _disks(tmp_path, image=made)
    disk = disks.create("server", "image", disk_format, root_gb=0)
    info = _info(disk, "qcow2")
    assert info["backing-filename-format"] == qemu_format
    assert info["backing-filename"] == str(disks.base / "image")
    assert info["virtual-size"] == _info(made, qemu_format)["virtual-size"] >= 24 * MIB


@needs_qemu_img
def test_content_lying_about_its_format(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(MIB))
    disks, _ = _disks(tmp_path, image=junk)
    with pytest.raises(VirtError, match="not in qcow2 format"):
        disks.create("server", "image", "qcow2", root_gb=1)
    assert not (disks.instance_dir("server") / "disk").exists()


@needs_qemu_img
@pytest.mark.parametrize(
    ("options", "named"),
    [(["-F", "raw", "-b", "{secret}"], "{secret}"), (["-o", "data_file={data}"], "{data}")],
)
def test_qcow2_naming_other_files(tmp_path: Path, options: list[str], named: str) -> None:
    """A qcow2 whose header names a host file (as its backing or data file) is no disk."""
    paths = {"secret": tmp_path / "secret", "data": tmp_path / "data"}
    paths["secret"].write_bytes(bytes(MIB))
    made = tmp_path / "made"
    options = [option.format(**paths) for option in options]
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", *options, str(made), "1M"], check=True
    )
    disks, _ = _disks(tmp_path, image=made)
    with pytest.raises(VirtError, match=f"names other files: {named.format(**paths)}$"):
        disks.create("server", "image", "qcow2", root_gb=1)
    assert not (disks.instance_dir("server") / "disk").exists()


@needs_qemu_img
def test_vmdk_descriptor_naming_a_host_file(tmp_path: Path) -> None:
    """A VMDK descriptor whose extent is a host file is no disk (QEMU would read it)."""
    secret = tmp_path / "secret"
    secret.write_bytes(bytes(MIB))
    made = tmp_path / "made"
    made.write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        f'createType="monolithicFlat"\nRW 2048 FLAT "{secret}" 0\n'
    )
    disks, _ = _disks(tmp_path, image=made)
    with pytest.raises(VirtError, match="not a self-contained VMDK"):
        disks.create("server", "image", "vmdk", root_gb=1)
    assert not (disks.instance_dir("server") / "disk").exists()


def test_unbootable_format_is_refused_before_download(tmp_path: Path) -> None:
    disks, images = _disks(tmp_path, image=tmp_path / "unused")
    with pytest.raises(VirtError, match="disk_format ploop"):
        disks.create("server", "image", "ploop", root_gb=1)
    assert images.downloaded == []
