"""Host TCP ports for the servers' serial consoles, one per domain, from ``[serial_console]
port_range`` on ``proxyclient_address``.

A domain keeps its port when it is defined again (hard reboot, resize). A new one gets a
port that no domain of this libvirt holds (any agent's, running or not) and that nothing
else listens on, tried from a random point of the range so that agents sharing a libvirt
rarely pick alike; this agent's own choices are serialized until the domain is defined.
Each domain's XML is read once (a domain keeps its port): reading the XML of a domain that
is starting waits for its start, which would hold every build on the host behind it.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import libvirt

from stratus.compute.virt.driver import VirtError
from stratus.compute.virt.libvirt.config import Listener, serial_listener
from stratus.compute.virt.libvirt.host import Host
from stratus.runtime.config import ConfigError


def parse_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition(":")
    try:
        low, high = int(first), int(last)
    except ValueError:
        low = high = 0
    if not 0 < low <= high < 65536:
        raise ConfigError(f"[serial_console] port_range {text!r} is not first:last (1-65535)")
    return low, high


class SerialPorts:
    def __init__(self, host: Host, address: str, port_range: str) -> None:
        self.host = host
        self.address = address
        self.first, self.last = parse_range(port_range)
        self._lock = threading.Lock()
        self._ports: dict[str, int | None] = {}  # each domain's port, by uuid, once read

    @contextmanager
    def reserve(self, uuid: str) -> Iterator[Listener]:
        """Where the server's serial port is to listen; hold the block until its domain
        is defined."""
        with self._lock:
            listener = self._kept(uuid) or self._free()
            yield listener
            self._ports[uuid] = listener.port

    def _kept(self, uuid: str) -> Listener | None:
        domain = self.host.domain(uuid)
        if domain is None:
            return None
        kept = serial_listener(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        return kept if kept is not None and kept.host == self.address else None

    def _free(self) -> Listener:
        taken = self._taken()
        ports = list(range(self.first, self.last + 1))
        start = random.randrange(len(ports))
        for port in ports[start:] + ports[:start]:
            if port not in taken and _bindable(self.address, port):
                return Listener(self.address, port)
        raise VirtError(
            f"No port of [serial_console] port_range {self.first}:{self.last} is free "
            f"on {self.address} for a serial console."
        )

    def _taken(self) -> set[int]:
        """The ports the serial consoles of every domain of this libvirt listen on."""
        ports: dict[str, int | None] = {}
        for domain in self.host.conn.listAllDomains():
            uuid = domain.UUIDString()
            if uuid not in self._ports:
                try:
                    listener = serial_listener(domain.XMLDesc(0))
                except libvirt.libvirtError:  # gone meanwhile
                    continue
                self._ports[uuid] = None if listener is None else listener.port
            ports[uuid] = self._ports[uuid]
        self._ports = ports  # the domains gone are forgotten
        return {port for port in ports.values() if port is not None}


def _bindable(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as QEMU listens
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True
