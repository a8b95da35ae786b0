"""Containers on Stratus networks, on this host: the network service and its L2, DHCP and
L3 agents in one process (``stratus.testing.network``: everything named by a random token
or by the ids of the run's networks and ports), the Docker network plugin on a socket
whose name is unique to the test, and the real Docker Engine with a busybox image under a
tag of the run's own. Needs root, Docker and the network tools; fails, never skips,
without Docker.

Whatever a test makes is removed afterwards, also when it fails: the plugin's Docker
networks and their containers, the plugin (stopped) and its socket and record, the veths
of every port on the run's networks, and then (``NetworkStack.close``) the networks'
bridges, namespaces, dnsmasq processes and firewall.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import pytest

from stratus.container.netplugin import NetworkPlugin, build, state_path
from stratus.container.netplugin.server import socket_path
from stratus.host import namespaces
from stratus.host.netlink import Netlink
from stratus.network.plugging import Veth, device_name, peer_name
from stratus.runtime.clients.catalog import ServiceClient
from stratus.testing.network import NetworkStack, missing_tools, running_stack

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"{getattr(check, '__name__', check)} did not hold in {timeout} s"
            return result
        time.sleep(0.1)


def docker_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The docker command, as a plain Docker user runs it."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done


def links() -> set[str]:
    with Netlink() as host:
        return set(host.link_names())


@pytest.fixture(scope="package")
def docker_client() -> Iterator[docker.DockerClient]:
    proc = subprocess.run(
        [str(ROOT / "tools/start-daemons.sh"), "dockerd"], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"start-daemons.sh failed:\n{proc.stdout}\n{proc.stderr}"
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="package")
def image(docker_client: docker.DockerClient) -> Iterator[str]:
    """The busybox image, under a tag of this run's (removed afterwards)."""
    tag = f"stratus-nettest/busybox:{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="stratus-nettest-") as out:
        proc = subprocess.run(
            [str(ROOT / "tools/build-container-image.sh"), out],
            capture_output=True,
            text=True,
            env={**os.environ, "STRATUS_CONTAINER_IMAGE": tag},
        )
        assert proc.returncode == 0, f"build failed:\n{proc.stdout}\n{proc.stderr}"
    try:
        yield tag
    finally:
        for container in docker_client.containers.list(all=True, filters={"ancestor": tag}):
            container.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag)


@pytest.fixture(scope="package")
def stack() -> Iterator[NetworkStack]:
    if os.geteuid() != 0:
        pytest.fail("needs root")
    assert not missing_tools(), f"missing tools: {' '.join(missing_tools())}"
    with running_stack() as made:
        try:
            yield made
        finally:
            _remove_veths(made)


class Plugins:
    """The plugins a test starts (all of one name), and what they made in Docker."""

    def __init__(self, stack: NetworkStack, client: docker.DockerClient) -> None:
        self.stack = stack
        self.client = client
        self.name = f"stratus-test-{secrets.token_hex(4)}"
        self.running: list[NetworkPlugin] = []
        self.network = ServiceClient(
            stack.plugging.api.identity, "network", "RegionOne", http=stack.client
        )

    def start(self, grace: float = 60.0) -> NetworkPlugin:
        plugin = build(
            self.stack.conf,
            self.network,
            self.stack.bus,
            name=self.name,
            interval=3600,
            grace=grace,
        )
        plugin.start()
        self.running.append(plugin)
        return plugin

    def stop(self) -> None:
        while self.running:
            self.running.pop().stop()

    def docker_networks(self) -> list[Any]:
        return self.client.networks.list(filters={"driver": self.name})

    def close(self) -> None:
        if not self.running:  # the networks' endpoints go through a running plugin
            self.start()
        try:
            for network in self.docker_networks():
                network.reload()
                for container_id in network.attrs.get("Containers") or {}:
                    with contextlib.suppress(docker.errors.NotFound):
                        self.client.containers.get(container_id).remove(force=True)
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
        finally:
            self.stop()
            socket_path(self.name).unlink(missing_ok=True)
            state_path(self.stack.conf.data_dir, self.name).unlink(missing_ok=True)


@pytest.fixture
def plugins(stack: NetworkStack, docker_client: docker.DockerClient) -> Iterator[Plugins]:
    made = Plugins(stack, docker_client)
    try:
        yield made
    finally:
        made.close()
        _remove_veths(stack)


@pytest.fixture
def plugin(plugins: Plugins) -> NetworkPlugin:
    """A running plugin of a name of the test's own."""
    return plugins.start()


def plug_namespace(stack: NetworkStack, name: str, network_id: str, ip: str, user: str) -> str:
    """A namespace on a new port of the network, holding ``ip`` (its port ACTIVE)."""
    port = stack.create("port", user, network_id=network_id, fixed_ips=[{"ip_address": ip}])
    namespace = stack.namespace(name)
    plugged = stack.plugging.plug(
        port["id"], Veth(device_name(port["id"]), "eth0", namespace), device_id=namespace
    )
    assert plugged.active
    prefix = stack.ok("GET", f"subnets/{port['fixed_ips'][0]['subnet_id']}", "admin")
    with Netlink(namespace) as inside:
        inside.set_addresses("eth0", [f"{ip}/{prefix['subnet']['cidr'].split('/')[1]}"])
    return namespace


def ping(namespace: str, address: str) -> bool:
    argv = ["ping", "-c", "1", "-W", "1", address]
    return namespaces.run_in(namespace, subprocess.run, argv, capture_output=True).returncode == 0


def _remove_veths(stack: NetworkStack) -> None:
    """The veths of every port on the run's networks, whoever plugged them."""
    ports = stack.ok("GET", "ports", "admin")["ports"]
    mine = [p["id"] for p in ports if p["network_id"] in stack.network_ids]
    names = {name for port_id in mine for name in (device_name(port_id), peer_name(port_id))}
    with Netlink() as host:
        for name in names & set(host.link_names()):
            host.delete_link(name)
