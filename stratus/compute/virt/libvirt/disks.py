"""A host's image cache and its servers' disks.

Images (and kernels and ramdisks) are downloaded once per host into
``<instances_path>/_base/<image id>``, whole or not at all, one download per image at a
time; a server's disk is a qcow2 overlay on its cached image, in
``<instances_path>/<server uuid>/``, so that booting copies nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections import defaultdict
from pathlib import Path

from stratus.compute.clients.images import ImageClient
from stratus.compute.disk_formats import QEMU_FORMATS
from stratus.compute.virt.driver import UnusableImage, VirtError
from stratus.compute.virt.libvirt.qcow2 import create_overlay

GIB = 1024**3
SECTOR = 512
# The VMDK subformats whose data is all in the image's one file.
SELF_CONTAINED_VMDK = frozenset({"monolithicSparse", "streamOptimized"})
DISK = "disk"
CONSOLE = "console.log"


def qemu_img(*args: str) -> str:
    proc = subprocess.run(["qemu-img", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise VirtError(f"qemu-img {args[0]} failed: {proc.stderr.strip() or proc.stdout}")
    return proc.stdout


class Disks:
    def __init__(self, instances_path: Path, images: ImageClient) -> None:
        self.root = instances_path
        self.base = instances_path / "_base"
        self.images = images
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        # cached images' virtual sizes, by path, format, inode, size and mtime (one
        # qemu-img fork fewer per boot; a cached image is never written again, but a
        # changed file is measured anew)
        self._sizes: dict[tuple[Path, str, int, int, int], int] = {}

    def cached(self, image_id: str) -> Path:
        """The image's data on this host, downloaded the first time it is asked for."""
        path = self.base / image_id
        with self._guard:
            lock = self._locks[image_id]
        with lock:
            if not path.exists():
                self.base.mkdir(parents=True, exist_ok=True)
                for directory in (self.root, self.base):
                    directory.chmod(0o755)  # QEMU runs as another user and must read them
                self.images.download(image_id, path)
                path.chmod(0o644)
        return path

    def instance_dir(self, uuid: str) -> Path:
        return self.root / uuid

    def create(self, uuid: str, image_id: str, disk_format: str, root_gb: int) -> Path:
        """The server's disk: an overlay on its image (read as QEMU's format for the image's
        disk_format), as large as the flavor's root disk (or the image, if that is larger)."""
        backing = QEMU_FORMATS.get(disk_format)
        if backing is None:  # the API refuses these images: a server from before it did
            raise UnusableImage(
                f"image {image_id} has disk_format {disk_format}, not a bootable disk"
            )
        base = self.cached(image_id)
        directory = self.instance_dir(uuid)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        disk = directory / DISK
        if disk.exists():
            return disk
        size = max(root_gb * GIB, self._base_size(base, backing))
        # Written whole under another name, then renamed: a disk that exists is complete.
        partial = directory / (DISK + ".partial")
        create_overlay(partial, base.absolute(), backing, -(-size // SECTOR) * SECTOR)
        partial.replace(disk)
        return disk

    def grow(self, disk: Path, root_gb: int) -> None:
        """Make the disk as large as a new flavor's root disk (disks never shrink)."""
        if root_gb * GIB > self.virtual_size(disk, "qcow2"):
            qemu_img("resize", "-q", str(disk), str(root_gb * GIB))

    def _base_size(self, base: Path, fmt: str) -> int:
        stat = base.stat()
        key = (base, fmt, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        size = self._sizes.get(key)
        if size is None:
            size = self._sizes[key] = _inspect(base, fmt)
        return size

    @staticmethod
    def virtual_size(path: Path, fmt: str) -> int:
        """The disk's size as a guest sees it, read as ``fmt`` (never probed: an image's
        data must not choose how it is read)."""
        info = qemu_img("info", "--output=json", "-U", "-f", fmt, str(path))
        return int(json.loads(info)["virtual-size"])

    def remove(self, uuid: str) -> None:
        shutil.rmtree(self.instance_dir(uuid), ignore_errors=True)


def _inspect(base: Path, fmt: str) -> int:
    """The image's virtual size, read as ``fmt``, once it is known to name no other file
    (a backing file, a qcow2 data file, VMDK extents or parent): an image's owner must not
    make QEMU, or libvirt labelling the disk's chain, open the host's files."""
    if fmt == "vmdk":
        _check_vmdk_header(base)
    try:
        info = json.loads(qemu_img("info", "--output=json", "-U", "-f", fmt, str(base)))
    except VirtError as exc:  # the data is not what its disk_format says
        raise UnusableImage(f"image {base.name} cannot be read as {fmt}: {exc}") from exc
    data = info.get("format-specific", {}).get("data", {})
    named = {info.get("backing-filename"), data.get("data-file")}
    named |= {extent.get("filename") for extent in data.get("extents", [])}
    named -= {None, str(base)}
    if named:
        raise UnusableImage(f"image {base.name} names other files: {', '.join(sorted(named))}")
    if fmt == "vmdk" and data.get("create-type") not in SELF_CONTAINED_VMDK:
        raise UnusableImage(f"image {base.name} is a VMDK of type {data.get('create-type')}")
    return int(info["virtual-size"])


def _check_vmdk_header(base: Path) -> None:
    """A VMDK must be a sparse file with its capacity in its header: a descriptor, in a
    text file or embedded in a header of no capacity, would have QEMU open the extents it
    names (before ``qemu-img info`` could tell)."""
    with open(base, "rb") as handle:
        header = handle.read(20)
    if header[:4] != b"KDMV" or not int.from_bytes(header[12:20], "little"):
        raise UnusableImage(f"image {base.name} is not a self-contained VMDK")
