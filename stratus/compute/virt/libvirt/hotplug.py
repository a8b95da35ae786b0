"""Hot plugging a domain's devices: into (or out of) its persistent config always, and
into (or out of) the guest too while it runs. A guest lets go of a device when it has
acknowledged the unplug (ACPI), some time after libvirt was asked: detach waits for it."""

from __future__ import annotations

import time

import libvirt

from stratus.compute.virt.driver import VirtError
from stratus.compute.virt.libvirt.config import has_interface

DETACH_TIMEOUT = 30.0
POLL = 0.2
LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG


def attach(domain: libvirt.virDomain, xml: str) -> None:
    domain.attachDeviceFlags(xml, CONFIG | (LIVE if domain.isActive() else 0))


def detach(
    domain: libvirt.virDomain, xml: str, mac_address: str, timeout: float = DETACH_TIMEOUT
) -> None:
    """Detach the NIC with this MAC address from wherever the domain still has it."""
    in_config = has_interface(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), mac_address)
    live = bool(domain.isActive()) and has_interface(domain.XMLDesc(0), mac_address)
    flags = (CONFIG if in_config else 0) | (LIVE if live else 0)
    if not flags:
        return
    domain.detachDeviceFlags(xml, flags)
    deadline = time.monotonic() + timeout
    while live and domain.isActive() and has_interface(domain.XMLDesc(0), mac_address):
        if time.monotonic() > deadline:
            raise VirtError(f"the guest did not release NIC {mac_address} in {timeout:g} s")
        time.sleep(POLL)
