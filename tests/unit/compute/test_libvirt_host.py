"""Reading this host's domains from libvirt while the agent's own work changes them."""

from __future__ import annotations

import uuid

import libvirt

from stratus.compute import states
from stratus.compute.virt.libvirt.config import instance_name
from stratus.compute.virt.libvirt.host import Host


class _Gone(libvirt.libvirtError):
    def get_error_code(self) -> int:
        return libvirt.VIR_ERR_NO_DOMAIN


class _Domain:
    """A domain of agent host ``h1``; ``gone``: undefined once it has been listed."""

    def __init__(self, gone: bool) -> None:
        self.uuid = str(uuid.uuid4())
        self.gone = gone

    def name(self) -> str:
        return instance_name(self.uuid)

    def metadata(self, _kind: int, _namespace: str) -> str:
        return '<owner host="h1"/>'

    def state(self) -> tuple[int, int]:
        if self.gone:
            raise _Gone("Domain not found")
        return libvirt.VIR_DOMAIN_RUNNING, 1


class _Connection:
    def __init__(self, domains: list[_Domain]) -> None:
        self.domains = domains

    def isAlive(self) -> bool:  # noqa: N802 - libvirt's name
        return True

    def listAllDomains(self) -> list[_Domain]:  # noqa: N802 - libvirt's name
        return self.domains


def test_a_domain_undefined_while_the_domains_are_read_is_left_out() -> None:
    """A delete finishing during the periodic power-state sync failed the whole sync."""
    running, deleted = _Domain(gone=False), _Domain(gone=True)
    host = Host("test:///default", "qemu")
    host._conn = _Connection([deleted, running])  # type: ignore[assignment]
    assert host.domains("h1") == {running.uuid: states.RUNNING}
