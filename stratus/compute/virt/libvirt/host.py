"""The libvirt side of a compute host: the connection, whether KVM works here, what the
host offers, and its domains' power states."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt

from stratus.compute import states
from stratus.compute.records import instance_name
from stratus.compute.virt.libvirt.config import OWNER_NS

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions

KVM_DEVICE = "/dev/kvm"
_KVM_CREATE_VM = 0xAE01
_NAME = re.compile(r"^instance-([0-9a-f-]{36})$")
GIB = 1024**3

# libvirt's domain states, as Nova's power states.
POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: states.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: states.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: states.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: states.POWER_PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: states.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: states.POWER_SUSPENDED,
}


def kvm_works(device: str = KVM_DEVICE, cpuinfo: str = "/proc/cpuinfo") -> bool:
    """KVM runs guests here: its device makes VMs and the CPU has VT-x or AMD-V (a
    /dev/kvm without them, as some sandboxes have, hangs guests once they leave real mode)."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    if not re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M):
        return False
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.close(fcntl.ioctl(fd, _KVM_CREATE_VM, 0))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def power_state(domain: libvirt.virDomain) -> int:
    state, _reason = domain.state()
    if state == libvirt.VIR_DOMAIN_SHUTOFF and domain.hasManagedSaveImage(0):
        return states.POWER_SUSPENDED
    return POWER_STATES.get(state, states.NOSTATE)


class Host:
    """One libvirt connection, opened on first use and again if it drops."""

    def __init__(self, uri: str, virt_type: str) -> None:
        self.uri = uri
        self.virt_type = virt_type if virt_type != "auto" else ("kvm" if kvm_works() else "qemu")
        self._lock = threading.Lock()
        self._conn: libvirt.virConnect | None = None

    @property
    def conn(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is None or not self._conn.isAlive():
                self._conn = libvirt.open(self.uri)
            return self._conn

    def domain(self, uuid: str) -> libvirt.virDomain | None:
        try:
            return self.conn.lookupByName(instance_name(uuid))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def domains(self, host: str) -> dict[str, int]:
        """The servers' domains that agent ``host`` made, by server uuid, with their power
        states (a domain undefined while they are read is left out)."""
        found = {}
        for domain in self.conn.listAllDomains():
            try:
                match = _NAME.match(domain.name())
                if match and owner(domain) == host:
                    found[match.group(1)] = power_state(domain)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
        return found

    def node(self, hostname: str, instances_path: Path, host_ip: str) -> dict[str, Any]:
        """What this host offers, as agents report it."""
        _model, memory_mb, cpus, *_ = self.conn.getInfo()
        caps = ET.fromstring(self.conn.getCapabilities())
        cpu = caps.find("host/cpu")
        arch = cpu.findtext("arch", "x86_64") if cpu is not None else "x86_64"
        cpu_info: dict[str, Any] = {"arch": arch}
        if cpu is not None:
            cpu_info["model"] = cpu.findtext("model", "")
            cpu_info["vendor"] = cpu.findtext("vendor", "")
            topology = cpu.find("topology")
            if topology is not None:
                cpu_info["topology"] = {
                    k: int(v) for k, v in topology.attrib.items() if v.isdigit()
                }
            cpu_info["features"] = sorted(f.get("name", "") for f in cpu.findall("feature"))
        instances_path.mkdir(parents=True, exist_ok=True)
        version = self.conn.getVersion()
        return {
            "hypervisor_hostname": hostname,
            "hypervisor_type": "QEMU",
            "hypervisor_version": version,
            "host_ip": host_ip,
            "vcpus": cpus,
            "memory_mb": memory_mb,
            "local_gb": shutil.disk_usage(instances_path).total // GIB,
            "cpu_info": cpu_info,
            "capabilities": {
                "hypervisor_type": "QEMU",
                "hypervisor_version": version,
                "virt_type": self.virt_type,
                "supported_instances": [[arch, self.virt_type, "hvm"]],
                "resize_across_hosts": False,
            },
        }


def owner(domain: libvirt.virDomain) -> str | None:
    """The agent host recorded in the domain's metadata (None: not a Stratus agent's)."""
    try:
        element = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, OWNER_NS)
    except libvirt.libvirtError:
        return None
    return ET.fromstring(element).get("host")
