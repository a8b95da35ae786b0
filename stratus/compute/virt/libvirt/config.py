"""A server's libvirt domain, from its flavor and its image's properties.

Image properties read (with Nova's names): ``hw_disk_bus`` (virtio), ``hw_vif_model``
(virtio), ``hw_machine_type`` (pc), ``os_command_line`` (for direct kernel boot);
``kernel_id``/``ramdisk_id`` boot the kernel and initrd directly instead of the disk.
The serial console goes to a file (what ``os-getConsoleOutput`` shows); the NICs are the
taps the network service's plugging made (``type='ethernet'``, not managed by libvirt).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.compute.records import instance_name

DEFAULT_COMMAND_LINE = "root=/dev/vda console=tty0 console=ttyS0"
DISK_TARGETS = {"virtio": "vda", "scsi": "sda", "sata": "sda", "ide": "hda"}


@dataclass(frozen=True)
class Boot:
    """Files the domain boots from: its disk and, for direct kernel boot, kernel/initrd."""

    disk: Path
    console_log: Path
    kernel: Path | None = None
    ramdisk: Path | None = None


OWNER_NS = "https://stratus.dev/xmlns/libvirt/owner/1.0"
ET.register_namespace("stratus", OWNER_NS)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def domain_xml(
    instance: dict[str, Any], boot: Boot, network_info: list[dict[str, Any]], virt_type: str
) -> str:
    flavor = instance["flavor"]
    props = instance.get("image_properties") or {}
    domain = ET.Element("domain", type=virt_type)
    _sub(domain, "name", instance_name(instance["uuid"]))
    _sub(domain, "uuid", instance["uuid"])
    _sub(domain, "memory", str(flavor["memory_mb"]), unit="MiB")
    _sub(domain, "vcpu", str(flavor["vcpus"]))
    metadata = _sub(domain, "metadata")
    _sub(metadata, "description", f"{instance.get('display_name', '')} ({instance['project_id']})")
    # Whose domain it is: an agent reconciles only its own host's (another cloud's agent on
    # the same libvirt leaves it alone).
    ET.SubElement(metadata, f"{{{OWNER_NS}}}owner", {"host": instance["host"]})
    os_element = _sub(domain, "os")
    arch = str(props.get("hw_architecture") or props.get("architecture") or "x86_64")
    machine = str(props.get("hw_machine_type") or "pc")
    _sub(os_element, "type", "hvm", arch=arch, machine=machine)
    if boot.kernel is not None:
        _sub(os_element, "kernel", str(boot.kernel))
        if boot.ramdisk is not None:
            _sub(os_element, "initrd", str(boot.ramdisk))
        _sub(os_element, "cmdline", str(props.get("os_command_line") or DEFAULT_COMMAND_LINE))
    else:
        _sub(os_element, "boot", dev="hd")
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if virt_type == "kvm":
        _sub(domain, "cpu", mode="host-model")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    devices = _sub(domain, "devices")
    bus = str(props.get("hw_disk_bus") or "virtio")
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2", cache="none")
    _sub(disk, "source", file=str(boot.disk))
    _sub(disk, "target", dev=DISK_TARGETS.get(bus, "vda"), bus=bus)
    model = str(props.get("hw_vif_model") or "virtio")
    for vif in network_info:
        interface = _sub(devices, "interface", type="ethernet")
        _sub(interface, "mac", address=vif["mac_address"])
        _sub(interface, "target", dev=vif["devname"], managed="no")
        _sub(interface, "model", type=model)
        if vif.get("mtu"):
            _sub(interface, "mtu", size=str(vif["mtu"]))
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=str(boot.console_log))
    _sub(serial, "target", port="0")
    _sub(devices, "memballoon", model="none")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")
