"""Fixtures for tests that build real kernel objects.

Each test gets a ``Lab`` with a random token (``t`` + 4 hex digits). Every name the lab
makes carries the token (bridges ``brqt...``, namespaces ``qdhcp-t...``, ``t...-vm1``,
firewall chains and sets ``t...-``), and the lab's finalizer removes all of it, also when
the test fails: dnsmasq first (a process keeps its namespace alive), then the firewall,
links and namespaces, then a sweep of anything else that carries the token. "Instances"
are namespaces plugged into a bridge with a veth pair; traffic only ever flows between
them, the lab's namespaces and the host end of bridges the lab made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratus.host import commands, firewall, ipsets, namespaces
from stratus.host.dnsmasq import Dnsmasq
from stratus.host.names import bridge_name
from stratus.host.netlink import Netlink

TOOLS = ("iptables-restore", "ip6tables-restore", "ipset", "dnsmasq", "ping", "busybox")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "host: builds real bridges, namespaces and packet filters (needs root)"
    )


@dataclass(frozen=True)
class Instance:
    """A namespace standing in for a VM: ``eth0`` inside, ``device`` on the bridge."""

    namespace: str
    device: str
    mac: str


class Lab:
    def __init__(self, token: str, state_dir: Path) -> None:
        self.token = token
        self.prefix = token  # firewall and NAT owner prefix
        self.state_dir = state_dir
        self.host = Netlink()
        self._namespaces: list[str] = []
        self._links: list[str] = []
        self._dnsmasqs: list[Dnsmasq] = []
        self._sockets: list[socket.socket] = []
        self._drops: list[tuple[str, str]] = []

    # -- building --------------------------------------------------------------------

    def namespace(self, name: str) -> str:
        namespaces.create(name)
        self._namespaces.append(name)
        return name

    def network(self, suffix: str) -> tuple[str, str]:
        """A network id carrying the token, and its bridge, made."""
        network_id = f"{self.token}{suffix}-0000-4000-8000-000000000000"
        bridge = bridge_name(network_id)
        self._links.append(bridge)
        self.host.ensure_bridge(bridge)
        return network_id, bridge

    def tap(self, name: str) -> str:
        """A tap, removed at the end."""
        self._links.append(name)
        self.host.ensure_tap(name)
        return name

    def plug(
        self,
        namespace: str,
        bridge: str,
        device: str,
        inner: str = "eth0",
        *,
        mac: str | None = None,
        addresses: tuple[str, ...] = (),
    ) -> None:
        """A veth from ``bridge`` (host end ``device``) to ``inner`` in ``namespace``, up."""
        self._links.append(device)
        self.host.ensure_veth(device, inner, peer_namespace=namespace)
        self.host.attach(device, bridge)
        with Netlink(namespace) as ns:
            ns.set_link(inner, mac=mac, up=True)
            for cidr in addresses:
                ns.ensure_address(inner, cidr)

    def instance(
        self, bridge: str, name: str, *, addresses: tuple[str, ...] = (), gateway: str | None = None
    ) -> Instance:
        namespace = self.namespace(f"{self.token}-{name}")
        device = f"{self.token}{name}"
        mac = "fa:16:3e:" + ":".join(secrets.token_hex(1) for _ in range(3))
        self.plug(namespace, bridge, device, mac=mac, addresses=addresses)
        if gateway is not None:
            with Netlink(namespace) as ns:
                ns.ensure_route("0.0.0.0/0", gateway=gateway)
        return Instance(namespace, device, mac)

    def dnsmasq(self, network_id: str) -> Dnsmasq:
        server = Dnsmasq(self.state_dir, network_id)
        self._dnsmasqs.append(server)
        return server

    def drop_bridged(self, bridge: str) -> None:
        """Append a DROP for frames bridged on ``bridge`` to FORWARD, both families: the
        same verdict Docker's FORWARD policy gives, whether Docker runs or not."""
        for tool in ("iptables", "ip6tables"):
            self._drops.append((tool, bridge))
            commands.run([tool, "-w", "-A", "FORWARD", "-i", bridge, "-o", bridge, "-j", "DROP"])

    # -- probing ---------------------------------------------------------------------

    def ping(
        self, namespace: str, address: str, *, source: str | None = None, timeout: float = 1.0
    ) -> bool:
        argv = ["ping", "-c", "1", "-W", str(timeout), address]
        if source is not None:
            argv[1:1] = ["-I", source]
        done = namespaces.run_in(namespace, subprocess.run, argv, capture_output=True)
        return done.returncode == 0

    def listen(self, namespace: str | None, address: str, port: int) -> socket.socket:
        """A TCP listener in ``namespace`` (the host's when None)."""
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        if namespace is None:
            server = socket.create_server((address, port), family=family)
        else:
            server = namespaces.run_in(
                namespace, socket.create_server, (address, port), family=family
            )
        server.settimeout(2.0)
        self._sockets.append(server)
        return server

    def connect(
        self, namespace: str | None, address: str, port: int, *, timeout: float = 1.0
    ) -> bool:
        """Whether a TCP connection from ``namespace`` to ``address:port`` opens."""
        try:
            if namespace is None:
                conn = socket.create_connection((address, port), timeout=timeout)
            else:
                conn = namespaces.run_in(
                    namespace, socket.create_connection, (address, port), timeout=timeout
                )
        except OSError:
            return False
        conn.close()
        return True

    # -- cleaning up -----------------------------------------------------------------

    def close(self) -> None:
        """Undo everything, each step even when an earlier one failed; raise the first error."""
        steps = [server.close for server in self._sockets]
        steps += [dhcp.stop for dhcp in self._dnsmasqs]  # a process keeps its namespace alive
        steps.append(lambda: firewall.remove_all(prefix=self.prefix))
        steps += [lambda t=tool, b=bridge: self._undrop(t, b) for tool, bridge in self._drops]
        steps += [lambda n=link: self.host.delete_link(n) for link in reversed(self._links)]
        steps += [lambda n=name: namespaces.delete(n) for name in reversed(self._namespaces)]
        steps += [self.sweep, self.host.close]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as e:  # keep cleaning; report afterwards
                errors.append(e)
        if errors:
            raise errors[0]

    def _undrop(self, tool: str, bridge: str) -> None:
        commands.run([tool, "-w", "-D", "FORWARD", "-i", bridge, "-o", bridge, "-j", "DROP"])

    def sweep(self) -> None:
        """Remove whatever still carries the token (something a test made by hand)."""
        for name in self.host.link_names():
            if self.token in name:
                self.host.delete_link(name)
        for name in namespaces.names():
            if self.token in name:
                namespaces.delete(name)
        leftover = ipsets.names(self.prefix)
        if leftover:
            ipsets.destroy(leftover)


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing tools (see tools/apt/network.txt): {' '.join(missing)}")
    state_dir = Path(tempfile.mkdtemp(prefix="stratus-host-test-"))
    state_dir.chmod(0o755)  # dnsmasq re-reads its files as nobody
    built = Lab("t" + secrets.token_hex(2), state_dir)
    try:
        yield built
    finally:
        try:
            built.close()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
