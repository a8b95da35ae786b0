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
from stratus.compute.virt.driver import VirtError

GIB = 1024**3
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
        # cached images' virtual sizes, by path, inode, size and mtime (one qemu-img fork
        # fewer per boot; a cached image is never written again, but a changed file is
        # measured anew)
        self._sizes: dict[tuple[Path, int, int, int], int] = {}

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
        """The server's disk: an overlay on its image, as large as the flavor's root disk
        (or the image, if that is larger)."""
        base = self.cached(image_id)
        directory = self.instance_dir(uuid)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        disk = directory / DISK
        if disk.exists():
            return disk
        backing = "raw" if disk_format in ("raw", "iso") else "qcow2"
        size = max(root_gb * GIB, self._base_size(base))
        qemu_img(
            "create", "-q", "-f", "qcow2", "-F", backing, "-b", str(base), str(disk), str(size)
        )
        return disk

    def grow(self, disk: Path, root_gb: int) -> None:
        """Make the disk as large as a new flavor's root disk (disks never shrink)."""
        if root_gb * GIB > self.virtual_size(disk):
            qemu_img("resize", "-q", str(disk), str(root_gb * GIB))

    def _base_size(self, base: Path) -> int:
        stat = base.stat()
        key = (base, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        size = self._sizes.get(key)
        if size is None:
            size = self._sizes[key] = self.virtual_size(base)
        return size

    @staticmethod
    def virtual_size(path: Path) -> int:
        return int(json.loads(qemu_img("info", "--output=json", "-U", str(path)))["virtual-size"])

    def remove(self, uuid: str) -> None:
        shutil.rmtree(self.instance_dir(uuid), ignore_errors=True)
