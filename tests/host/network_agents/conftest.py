"""The data plane end to end on this host: the network server, its three agents and port
plugging in one process, with the real identity service (see ``stratus.testing.network``
for how a run's objects are named, kept apart from anything else on the host, and
removed even when a test fails).

Network namespaces stand in for instances: each is plugged into a port through the
plugging interface (a veth whose peer goes into the namespace) and takes its address by
DHCP. Traffic only flows between these namespaces and the run's public bridge.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from stratus.host import namespaces
from stratus.network.plugging import Veth, device_name, peer_name
from stratus.testing.network import NetworkStack, missing_tools, running_stack

T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "host: builds real bridges, namespaces and packet filters (needs root)"
    )


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """``check()``'s first truthy result within ``timeout`` seconds; AssertionError if none
    (for effects that follow a hint on another thread)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"{getattr(check, '__name__', check)} did not hold in {timeout} s"
            return result
        time.sleep(interval)


@dataclass(frozen=True)
class Instance:
    """A namespace plugged into a port: ``eth`` inside, ``port_device`` in the bridge."""

    name: str
    namespace: str
    port: dict[str, Any]
    eth: str
    ip: str

    @property
    def veth(self) -> Veth:
        return Veth(device_name(self.port["id"]), self.eth, self.namespace)


@dataclass
class Cloud(NetworkStack):
    """A stack with instances, and probes of the traffic between them."""

    instances: list[Instance] = dataclasses.field(default_factory=list)
    sockets: list[socket.socket] = dataclasses.field(default_factory=list)

    def instance(self, name: str, network_id: str, user: str = "demo", **port: Any) -> Instance:
        """A namespace plugged into a new port, with its address from DHCP."""
        made = self.create("port", user, network_id=network_id, name=name, **port)
        namespace = self.namespace(name)
        eth = peer_name(made["id"])
        plugged = self.plugging.plug(
            made["id"],
            Veth(device_name(made["id"]), eth, namespace),
            device_id=namespace,
            device_owner="compute:nova",
        )
        assert plugged.active, plugged.port
        vm = Instance(name, namespace, plugged.port, eth, self.lease(namespace, eth))
        self.instances.append(vm)
        return vm

    def remove_instance(self, vm: Instance) -> None:
        self.plugging.unplug(vm.port["id"], vm.veth)
        namespaces.delete(vm.namespace)
        self.instances.remove(vm)

    def ping(self, namespace: str | None, address: str, *, source: str | None = None) -> bool:
        argv = ["ping", "-c", "1", "-W", "1", address]
        if source is not None:
            argv[1:1] = ["-I", source]
        if namespace is None:
            return subprocess.run(argv, capture_output=True).returncode == 0
        done = namespaces.run_in(namespace, subprocess.run, argv, capture_output=True)
        return done.returncode == 0

    def listen(self, namespace: str | None, address: str, port: int) -> socket.socket:
        if namespace is None:
            server = socket.create_server((address, port))
        else:
            server = namespaces.run_in(namespace, socket.create_server, (address, port))
        server.settimeout(3.0)
        self.sockets.append(server)
        return server

    def connect(self, namespace: str | None, address: str, port: int) -> bool:
        try:
            if namespace is None:
                conn = socket.create_connection((address, port), timeout=1.0)
            else:
                conn = namespaces.run_in(
                    namespace, socket.create_connection, (address, port), timeout=1.0
                )
        except OSError:
            return False
        conn.close()
        return True

    def peer_seen(self, server: socket.socket, namespace: str, address: str, port: int) -> str:
        """Connect from ``namespace`` and return the source address ``server`` saw."""
        assert self.connect(namespace, address, port)
        conn, peer = server.accept()
        conn.close()
        return peer[0]

    def close(self) -> None:
        for server in self.sockets:
            server.close()
        super().close()


# A VLAN physical network on the public bridge (this kernel has no 802.1Q, so VLAN
# networks must fail clearly there), and a flat one on a veth the test makes.
PHYSNETS = """[ml2_type_vlan]
network_vlan_ranges = vlanphys
[linux_bridge]
physical_interface_mappings = vlanphys:{token}ex,flatphys:{token}p0
"""


@pytest.fixture(scope="package")
def cloud() -> Iterator[Cloud]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if missing_tools():
        pytest.skip(f"missing tools (see tools/apt/network.txt): {' '.join(missing_tools())}")
    with running_stack(PHYSNETS, stack_class=Cloud) as stack:
        yield stack
