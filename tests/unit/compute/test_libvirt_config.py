"""The libvirt driver's pure parts: domain XML and whether KVM works."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("libvirt")

from stratus.compute.virt.driver import VirtError  # noqa: E402
from stratus.compute.virt.libvirt.config import (  # noqa: E402
    OWNER_NS,
    Boot,
    Listener,
    domain_xml,
    has_interface,
    hot_plugs_on_root_bus,
    interface_xml,
    nic_slot,
    serial_listener,
)
from stratus.compute.virt.libvirt.host import kvm_works  # noqa: E402
from stratus.compute.virt.libvirt.serial import SerialPorts  # noqa: E402
from stratus.runtime.config import ConfigError  # noqa: E402

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


def test_a_serial_port_that_listens_and_is_logged(tmp_path: Path) -> None:
    boot = Boot(tmp_path / "disk", tmp_path / "console.log", serial=Listener("127.0.0.1", 10007))
    xml = domain_xml(INSTANCE, boot, [], "qemu")
    serial = parse(xml).find("devices/serial")
    assert serial.get("type") == "tcp"
    source = serial.find("source").attrib
    assert source == {"mode": "bind", "host": "127.0.0.1", "service": "10007", "tls": "no"}
    assert serial.find("protocol").get("type") == "raw"
    assert serial.find("log").get("file") == str(tmp_path / "console.log")
    assert serial_listener(xml) == Listener("127.0.0.1", 10007)
    to_file = domain_xml(INSTANCE, Boot(tmp_path / "d", tmp_path / "c"), [], "qemu")
    assert serial_listener(to_file) is None


def test_one_nic_for_hot_plugging(tmp_path: Path) -> None:
    nic = parse(interface_xml(VIF, "virtio"))
    assert nic.tag == "interface" and nic.get("type") == "ethernet"
    assert nic.find("target").get("dev") == "tapp1" and nic.find("mtu").get("size") == "1450"
    domain = domain_xml(INSTANCE, Boot(tmp_path / "d", tmp_path / "c"), [VIF], "qemu")
    assert has_interface(domain, VIF["mac_address"].upper())
    assert not has_interface(domain, "fa:16:3e:00:00:02")


def _slot(device: ET.Element) -> str | None:
    address = device.find("address")
    return None if address is None else address.get("slot")


def test_the_i440fx_machine_has_its_disk_and_nics_at_fixed_slots(tmp_path: Path) -> None:
    """Disk at slot 2, NICs after it in order: the same whether the NICs are in the domain
    at start or hot plugged (at the slot nic_slot gives) before the guest first runs."""
    second = {**VIF, "mac_address": "fa:16:3e:00:00:02", "devname": "tapp2"}
    boot = Boot(tmp_path / "d", tmp_path / "c")
    for machine in ("pc", "pc-i440fx-7.2"):
        instance = {**INSTANCE, "image_properties": {"hw_machine_type": machine}}
        assert hot_plugs_on_root_bus(instance)
        domain = parse(domain_xml(instance, boot, [VIF, second], "qemu"))
        assert domain.find("os/type").get("machine") == machine
        assert _slot(domain.find("devices/disk")) == "0x02"
        assert [_slot(nic) for nic in domain.iterfind("devices/interface")] == ["0x03", "0x04"]
        plugged = parse(interface_xml(second, "virtio", nic_slot(instance, 1)))
        assert plugged.find("address").attrib == {
            "type": "pci",
            "domain": "0x0000",
            "bus": "0x00",
            "slot": "0x04",
            "function": "0x0",
        }
        assert nic_slot(instance, 28) == 31 and nic_slot(instance, 29) is None  # root bus full
    scsi = {**INSTANCE, "image_properties": {"hw_disk_bus": "scsi"}}
    assert _slot(parse(domain_xml(scsi, boot, [], "qemu")).find("devices/disk")) is None


def test_q35_leaves_the_slots_to_libvirt(tmp_path: Path) -> None:
    for machine in ("q35", "pc-q35-7.2"):
        instance = {**INSTANCE, "image_properties": {"hw_machine_type": machine}}
        assert not hot_plugs_on_root_bus(instance) and nic_slot(instance, 0) is None
        domain = parse(domain_xml(instance, Boot(tmp_path / "d", tmp_path / "c"), [VIF], "qemu"))
        assert _slot(domain.find("devices/disk")) is None
        assert _slot(domain.find("devices/interface")) is None
    assert parse(interface_xml(VIF, "virtio")).find("address") is None


def _host(domains: dict[str, str], reads: list[str] | None = None) -> SimpleNamespace:
    """A libvirt host stand-in holding domains (by uuid) with these XMLs; ``reads``
    collects the uuid of each domain whose XML is read."""

    def domain(uuid: str) -> SimpleNamespace | None:
        if uuid not in domains:
            return None

        def xml(flags: int = 0) -> str:
            if reads is not None:
                reads.append(uuid)
            return domains[uuid]

        return SimpleNamespace(XMLDesc=xml, UUIDString=lambda: uuid)

    return SimpleNamespace(
        domain=domain,
        conn=SimpleNamespace(listAllDomains=lambda: [domain(uuid) for uuid in list(domains)]),
    )


def test_serial_ports_are_free_kept_and_run_out(tmp_path: Path) -> None:
    def defined(port: int) -> str:
        boot = Boot(tmp_path / "d", tmp_path / "c", serial=Listener("127.0.0.1", port))
        return domain_xml(INSTANCE, boot, [], "qemu")

    with socket.create_server(("127.0.0.1", 0)) as busy:
        first = busy.getsockname()[1]
        host = _host({"kept": defined(first + 1)})
        ports = SerialPorts(host, "127.0.0.1", f"{first}:{first + 2}")  # type: ignore[arg-type]
        for _ in range(5):  # whatever point of the range it starts from
            with ports.reserve("new") as listener:
                assert listener == Listener("127.0.0.1", first + 2)
        with ports.reserve("kept") as listener:
            assert listener.port == first + 1
        full = SerialPorts(host, "127.0.0.1", f"{first}:{first + 1}")  # type: ignore[arg-type]
        with pytest.raises(VirtError, match="port_range"), full.reserve("new"):
            pass
    for bad in ("10000", "a:b", "20000:10000", "0:10"):
        with pytest.raises(ConfigError):
            SerialPorts(host, "127.0.0.1", bad)  # type: ignore[arg-type]


def test_each_domains_serial_port_is_read_once(tmp_path: Path) -> None:
    """Ports handed out are remembered with their domains, a domain's XML is read once, and
    a port whose domain is gone is free again."""

    def defined(port: int) -> str:
        boot = Boot(tmp_path / "d", tmp_path / "c", serial=Listener("127.0.0.1", port))
        return domain_xml(INSTANCE, boot, [], "qemu")

    with socket.create_server(("127.0.0.1", 0)) as busy:
        first = busy.getsockname()[1] + 1  # a range of 3 ports nothing listens on, we hope
    domains: dict[str, str] = {"other": defined(first)}
    reads: list[str] = []
    ports = SerialPorts(_host(domains, reads), "127.0.0.1", f"{first}:{first + 2}")  # type: ignore[arg-type]
    with ports.reserve("a") as listener:
        domains["a"] = defined(listener.port)
    with ports.reserve("b") as second:
        domains["b"] = defined(second.port)
    assert {listener.port, second.port} == {first + 1, first + 2}
    assert reads.count("other") == 1 and "a" not in reads  # its port was remembered
    with pytest.raises(VirtError, match="port_range"), ports.reserve("c"):
        pass
    del domains["other"]
    with ports.reserve("c") as third:
        assert third.port == first
    assert reads.count("other") == 1
