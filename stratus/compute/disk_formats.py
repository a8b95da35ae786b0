"""Which images a server can boot from, in one place: the API refuses the others before
anything is allocated, and the libvirt driver reads each accepted one with QEMU's format
for it (nothing here needs libvirt: the API imports it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Glance disk format -> QEMU's name for it, for each format a server's disk can be made on.
QEMU_FORMATS: dict[str, str] = {
    "raw": "raw",
    "iso": "raw",
    "ami": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vdi": "vdi",
    "vhd": "vpc",
    "vhdx": "vhdx",
}

# Glance container formats whose data is the disk itself (the others are archives, or a
# container's filesystem).
DISK_CONTAINERS = frozenset({"bare", "ovf", "ami", "aki", "ari"})

# What images of some formats are instead of a disk, for a message that says so.
NOT_DISKS: dict[tuple[str, str], str] = {
    ("container_format", "docker"): "a container image",
    ("disk_format", "aki"): "a kernel image",
    ("disk_format", "ari"): "a ramdisk image",
}


def unbootable(image: Mapping[str, Any]) -> str | None:
    """Why a server cannot boot from the image (None if it can)."""
    container, disk = image.get("container_format"), image.get("disk_format")
    for field, value in (("container_format", container), ("disk_format", disk)):
        what = NOT_DISKS.get((field, str(value)))
        if what is not None:
            return f"is {what} ({field} {value}), not a disk a server can boot from"
    if disk not in QEMU_FORMATS:
        usable = ", ".join(sorted(QEMU_FORMATS))
        return f"has disk_format {disk}, which servers cannot boot from (usable: {usable})"
    if container not in DISK_CONTAINERS:
        usable = ", ".join(sorted(DISK_CONTAINERS))
        return (
            f"has container_format {container}, which servers cannot boot from (usable: {usable})"
        )
    return None
