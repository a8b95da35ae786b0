"""A server's libvirt domain, from its flavor and its image's properties.

Image properties read (with Nova's names): ``hw_disk_bus`` (virtio), ``hw_vif_model``
(virtio), ``hw_machine_type`` (pc), ``os_command_line`` (for direct kernel boot);
``kernel_id``/``ramdisk_id`` boot the kernel and initrd directly instead of the disk.
The serial port listens on a host TCP port (what the serial console proxy connects to)
and is logged to a file as well (what ``os-getConsoleOutput`` shows); the NICs are the
taps the network service's plugging made (``type='ethernet'``, not managed by libvirt).

On the i440fx machine (``pc``) the virtio disk and the NICs sit at fixed slots of the PCI
root bus (:func:`pci_slot`), so that a guest finds its devices in the same places whether
its NICs were in the domain at start or hot plugged into it before it first ran (as the
driver does at build time), and after a hard reboot defines the domain anew.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.compute.records import instance_name

DEFAULT_COMMAND_LINE = "root=/dev/vda console=tty0 console=ttyS0"
DISK_TARGETS = {"virtio": "vda", "scsi": "sda", "sata": "sda", "ide": "hda"}
DISK_SLOT = 2  # slot 1 is the PIIX3 (ISA bridge, IDE, USB)
LAST_SLOT = 31


@dataclass(frozen=True)
class Listener:
    """A host address and TCP port."""

    host: str
    port: int


@dataclass(frozen=True)
class Boot:
    """Files the domain boots from: its disk and, for direct kernel boot, kernel/initrd;
    where its serial port is logged and (when ``serial`` is given) listens."""

    disk: Path
    console_log: Path
    kernel: Path | None = None
    ramdisk: Path | None = None
    serial: Listener | None = None


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
    _sub(os_element, "type", "hvm", arch=arch, machine=machine_type(instance))
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
    if bus == "virtio":
        _pci_address(disk, pci_slot(instance, DISK_SLOT))
    for index, vif in enumerate(network_info):
        devices.append(_interface(vif, vif_model(instance), nic_slot(instance, index)))
    _serial(devices, boot)
    _sub(devices, "memballoon", model="none")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")


def machine_type(instance: dict[str, Any]) -> str:
    return str((instance.get("image_properties") or {}).get("hw_machine_type") or "pc")


def hot_plugs_on_root_bus(instance: dict[str, Any]) -> bool:
    """Whether the domain's machine takes NICs hot plugged into its PCI root bus (i440fx;
    q35's PCIe root complex does not)."""
    machine = machine_type(instance)
    return machine == "pc" or machine.startswith("pc-i440fx")


def pci_slot(instance: dict[str, Any], slot: int) -> int | None:
    """``slot`` of the root bus where the machine has fixed slots, else None (libvirt
    chooses)."""
    return slot if hot_plugs_on_root_bus(instance) and slot <= LAST_SLOT else None


def nic_slot(instance: dict[str, Any], index: int) -> int | None:
    """Where the server's NIC number ``index`` (of its network info) sits: after the disk."""
    return pci_slot(instance, DISK_SLOT + 1 + index)


def vif_model(instance: dict[str, Any]) -> str:
    return str((instance.get("image_properties") or {}).get("hw_vif_model") or "virtio")


def _pci_address(device: ET.Element, slot: int | None) -> None:
    if slot is not None:
        _sub(
            device,
            "address",
            type="pci",
            domain="0x0000",
            bus="0x00",
            slot=f"{slot:#04x}",
            function="0x0",
        )


def _interface(vif: dict[str, Any], model: str, slot: int | None) -> ET.Element:
    interface = ET.Element("interface", type="ethernet")
    _sub(interface, "mac", address=vif["mac_address"])
    _sub(interface, "target", dev=vif["devname"], managed="no")
    _sub(interface, "model", type=model)
    if vif.get("mtu"):
        _sub(interface, "mtu", size=str(vif["mtu"]))
    _pci_address(interface, slot)
    return interface


def interface_xml(vif: dict[str, Any], model: str, slot: int | None = None) -> str:
    """One NIC, as hot plugging attaches and detaches it (at ``slot`` of the root bus,
    when given; else where libvirt finds room)."""
    return ET.tostring(_interface(vif, model, slot), encoding="unicode")


def _serial(devices: ET.Element, boot: Boot) -> None:
    if boot.serial is None:
        serial = _sub(devices, "serial", type="file")
        _sub(serial, "source", path=str(boot.console_log))
    else:
        serial = _sub(devices, "serial", type="tcp")
        listen = boot.serial
        _sub(serial, "source", mode="bind", host=listen.host, service=str(listen.port), tls="no")
        _sub(serial, "protocol", type="raw")
        _sub(serial, "log", file=str(boot.console_log))
    _sub(serial, "target", port="0")


def serial_listener(xml: str) -> Listener | None:
    """Where the serial port of a domain (its XML) listens, if it does."""
    for source in ET.fromstring(xml).iterfind("devices/serial[@type='tcp']/source[@mode='bind']"):
        service = source.get("service", "")
        if service.isdigit():
            return Listener(source.get("host") or "0.0.0.0", int(service))
    return None


def has_interface(xml: str, mac_address: str) -> bool:
    """Whether a domain (its XML) has a NIC with this MAC address."""
    return any(
        (mac.get("address") or "").lower() == mac_address.lower()
        for mac in ET.fromstring(xml).iterfind("devices/interface/mac")
    )
