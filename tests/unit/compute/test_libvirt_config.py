"""The libvirt driver's pure parts: domain XML and whether KVM works."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("libvirt")

from stratus.compute.virt.libvirt.config import OWNER_NS, Boot, domain_xml  # noqa: E402
from stratus.compute.virt.libvirt.host import kvm_works  # noqa: E402

INSTANCE = {
    "uuid": "6a0c2d3e-0000-4000-8000-000000000001",
    "display_name": "vm",
    "project_id": "p",
    "host": "node1",
    "flavor": {"vcpus": 2, "memory_mb": 512, "root_gb": 1},
    "image_properties": {"os_command_line": "console=ttyS0", "hw_disk_bus": "virtio"},
}
VIF = {"port_id": "p1", "mac_address": "fa:16:3e:00:00:01", "devname": "tapp1", "mtu": 1450}


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def test_direct_kernel_boot(tmp_path: Path) -> None:
    boot = Boot(tmp_path / "disk", tmp_path / "console.log", tmp_path / "k", tmp_path / "r")
    domain = parse(domain_xml(INSTANCE, boot, [VIF], "qemu"))
    assert domain.get("type") == "qemu"
    assert domain.findtext("name") == f"instance-{INSTANCE['uuid']}"
    assert domain.find(f"metadata/{{{OWNER_NS}}}owner").get("host") == "node1"
    assert domain.findtext("memory") == "512" and domain.findtext("vcpu") == "2"
    assert domain.findtext("os/kernel") == str(tmp_path / "k")
    assert domain.findtext("os/initrd") == str(tmp_path / "r")
    assert domain.findtext("os/cmdline") == "console=ttyS0"
    assert domain.find("cpu") is None
    disk = domain.find("devices/disk")
    assert disk.find("source").get("file") == str(tmp_path / "disk")
    assert disk.find("target").attrib == {"dev": "vda", "bus": "virtio"}
    nic = domain.find("devices/interface")
    assert nic.get("type") == "ethernet" and nic.find("target").attrib == {
        "dev": "tapp1",
        "managed": "no",
    }
    assert nic.find("mac").get("address") == VIF["mac_address"]
    assert nic.find("mtu").get("size") == "1450"
    assert domain.find("devices/serial/source").get("path") == str(tmp_path / "console.log")


def test_disk_boot_under_kvm(tmp_path: Path) -> None:
    instance = {**INSTANCE, "image_properties": {"hw_disk_bus": "scsi", "hw_vif_model": "e1000"}}
    domain = parse(domain_xml(instance, Boot(tmp_path / "d", tmp_path / "c"), [VIF], "kvm"))
    assert domain.find("os/boot").get("dev") == "hd" and domain.find("os/kernel") is None
    assert domain.find("cpu").get("mode") == "host-model"
    assert domain.find("devices/disk/target").attrib == {"dev": "sda", "bus": "scsi"}
    assert domain.find("devices/interface/model").get("type") == "e1000"


def test_kvm_needs_virtualization_extensions(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 pni hypervisor\n")
    assert not kvm_works(device="/dev/null", cpuinfo=str(cpuinfo))
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 vmx\n")
    assert not kvm_works(device=str(tmp_path / "missing"), cpuinfo=str(cpuinfo))
