"""The data plane end to end on this host: the network server, its three agents and port
plugging, all in one process (in-process bus, SQLite), with the real identity service
validating tokens in-process.

Network namespaces stand in for instances: each is plugged into a port through the
plugging interface (a veth whose peer goes into the namespace) and takes its address by
DHCP. Everything the run makes carries a random token: the agents' firewall/NAT owner
prefix, the public bridge (``<token>ex``), the namespaces of the instances
(``<token>-vm1``), the bus and the host name; bridges, veths and the agents' namespaces
are named by the ids of networks, ports and routers this run's database made. The
finalizer removes all of it even when a test failed: the agents' own record of what
they made, the dnsmasq processes under the run's state dir, the firewall of the prefix,
and a sweep by name. Traffic only flows between these namespaces and the public bridge.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient

from stratus.host import dnsmasq, firewall, ipsets, namespaces
from stratus.host.dnsmasq import Dnsmasq
from stratus.host.names import bridge_name, dhcp_namespace, router_namespace
from stratus.host.netlink import Netlink
from stratus.identity.api import build_app as build_identity_app
from stratus.identity.bootstrap import CatalogEntry, bootstrap
from stratus.network import rpc, topics
from stratus.network.agent import devices, loop
from stratus.network.agent.dhcp import DhcpAgent
from stratus.network.agent.l2 import L2Agent
from stratus.network.agent.l3 import L3Agent
from stratus.network.agent.owned import DHCP, L2, L3, Owned
from stratus.network.api import build_app, make_backend
from stratus.network.plugging import Plugging, Veth, device_name, peer_name
from stratus.runtime import migrations
from stratus.runtime.bus import connect
from stratus.runtime.config import Config
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime

TOOLS = ("iptables-restore", "ipset", "nft", "dnsmasq", "dhcp_release", "ping", "busybox")
PASSWORD = "secret-password"
SERVICE_PASSWORD = "neutron-secret"
DHCP_SCRIPT = """#!/bin/sh
[ "$1" = bound ] && env > "$LEASE_FILE"
exit 0
"""
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
class User:
    name: str
    token: str
    project_id: str


@dataclass(frozen=True)
class Instance:
    """A namespace plugged into a port: ``eth`` inside, ``device`` in the bridge."""

    name: str
    namespace: str
    port: dict[str, Any]
    eth: str
    ip: str

    @property
    def veth(self) -> Veth:
        return Veth(device_name(self.port["id"]), self.eth, self.namespace)


class ServiceApi:
    """The network API as the network service's own user (what plugging calls)."""

    def __init__(self, client: TestClient, identity: IdentityClient) -> None:
        self.client = client
        self.identity = identity

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.identity.service_token()}
        return self.client.request(method, path, headers=headers, **kwargs)


@dataclass
class Cloud:
    """The server, the agents and plugging of one run, and requests to them as users."""

    token: str
    runtime: Runtime
    conf: Config
    client: TestClient
    users: dict[str, User]
    plugging: Plugging
    bus: Any
    host: str
    public_bridge: str
    public_gateway: str
    runners: list[loop.Runner] = field(default_factory=list)
    network_ids: list[str] = field(default_factory=list)
    port_ids: list[str] = field(default_factory=list)
    router_ids: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    # -- the API -----------------------------------------------------------------------

    def call(self, method: str, path: str, user: str = "demo", **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.users[user].token}
        return self.client.request(method, f"/v2.0/{path}", headers=headers, **kw)

    def ok(self, method: str, path: str, user: str = "demo", **kw: Any) -> Any:
        response = self.call(method, path, user, **kw)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def create(self, kind: str, user: str = "demo", **body: Any) -> dict[str, Any]:
        path = {"security_group": "security-groups", "security_group_rule": "security-group-rules"}
        made = self.ok("POST", path.get(kind, f"{kind}s"), user, json={kind: body})[kind]
        {"network": self.network_ids, "port": self.port_ids, "router": self.router_ids}.get(
            kind, []
        ).append(made["id"])
        return made

    def network(self, name: str, cidr: str, user: str = "demo") -> dict[str, Any]:
        """A network with one IPv4 subnet (DHCP on), as shown once the subnet exists."""
        network = self.create("network", user, name=name)
        self.create("subnet", user, network_id=network["id"], cidr=cidr, ip_version=4, name=name)
        return self.ok("GET", f"networks/{network['id']}", user)["network"]

    def port(self, port_id: str, user: str = "admin") -> dict[str, Any]:
        return self.ok("GET", f"ports/{port_id}", user)["port"]

    # -- the agents --------------------------------------------------------------------

    def start_agents(self) -> None:
        """Start a fresh L2, DHCP and L3 agent (as a new process would) and wait for
        their first pass."""
        self.runners = [loop.Runner(kind(self.conf, self.bus)) for kind in AGENTS]
        for runner in self.runners:
            runner.start()
        self.sync()

    def stop_agents(self) -> None:
        while self.runners:
            self.runners.pop().stop()

    def sync(self) -> None:
        """Have every agent finish a pass that starts now: L3 and DHCP first, as they
        attach devices the L2 agent then wires."""
        for topic in (topics.L3_AGENT, topics.DHCP_AGENT, topics.L2_AGENT):
            self.bus.call(topic, "sync", host=self.host, timeout=60, wait=55)

    # -- instances ---------------------------------------------------------------------

    def instance(self, name: str, network_id: str, user: str = "demo", **port: Any) -> Instance:
        """A namespace plugged into a new port, with its address from DHCP."""
        made = self.create("port", user, network_id=network_id, name=name, **port)
        namespace = f"{self.token}-{name}"
        namespaces.create(namespace)
        eth = peer_name(made["id"])
        plugged = self.plugging.plug(
            made["id"],
            Veth(device_name(made["id"]), eth, namespace),
            device_id=f"{self.token}-{name}",
            device_owner="compute:nova",
        )
        assert plugged.active, plugged.port
        address = self.lease(namespace, eth)
        vm = Instance(name, namespace, plugged.port, eth, address)
        self.instances.append(vm)
        return vm

    def lease(self, namespace: str, eth: str) -> str:
        """Run udhcpc once in the namespace; configure the address and default route of
        the lease and return the address."""
        work = Path(self.conf.data_dir)
        script = work / "udhcpc.sh"
        if not script.exists():
            script.write_text(DHCP_SCRIPT)
            script.chmod(0o755)
        out = work / f"{namespace}.lease"
        argv = ["busybox", "udhcpc", "-i", eth, "-f", "-q", "-n", "-t", "5", "-T", "1"]
        done = namespaces.run_in(
            namespace,
            subprocess.run,
            [*argv, "-s", str(script)],
            env={"LEASE_FILE": str(out), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert done.returncode == 0, done.stderr
        lease = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        with Netlink(namespace) as ns:
            ns.set_addresses(eth, [f"{lease['ip']}/{lease['mask']}"])
            if lease.get("router"):
                ns.ensure_route("0.0.0.0/0", gateway=lease["router"].split()[0])
        return lease["ip"]

    def remove_instance(self, vm: Instance) -> None:
        self.plugging.unplug(vm.port["id"], vm.veth)
        namespaces.delete(vm.namespace)
        self.instances.remove(vm)

    # -- probing -----------------------------------------------------------------------

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

    # -- what is left on the host ------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Host objects of this run's networks, ports and routers that still exist."""
        found = []
        with Netlink() as host:
            links = set(host.link_names())
        for network_id in self.network_ids:
            names = {bridge_name(network_id), devices.vxlan_device(network_id)}
            names |= set(devices.patch_devices(network_id))
            found += sorted(names & links)
            if namespaces.exists(dhcp_namespace(network_id)):
                found.append(dhcp_namespace(network_id))
        found += sorted({device_name(p) for p in self.port_ids} & links)
        found += [
            router_namespace(r) for r in self.router_ids if namespaces.exists(router_namespace(r))
        ]
        state = Path(self.conf.network_agent.state_path)
        found += [f"dnsmasq {n}" for n in dnsmasq.running_networks(state / "dhcp")]
        ours = f"{self.token}-"
        for tool in ("iptables-save", "ip6tables-save"):
            saved = subprocess.run([tool], capture_output=True, text=True).stdout
            found += [f"{tool}: {line}" for line in saved.splitlines() if ours in line]
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        found += [line for line in tables.splitlines() if line.split()[-1:] == [self.token]]
        found += ipsets.names(self.token)
        for keeper in (L2, DHCP, L3):
            found += [f"record {keeper}/{n}" for n in Owned(state, keeper).names()]
        return found

    def close(self) -> None:
        """Remove everything of this run, each step even if an earlier one failed. The
        agents stop first, so that nothing new appears while the rest is removed."""
        steps: list[Callable[[], None]] = [s.close for s in self.sockets]
        steps += [self.stop_agents, self._stop_dnsmasqs]
        steps.append(lambda: firewall.remove_all(prefix=self.token))
        steps += [self._remove_recorded, self._sweep]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as e:  # keep cleaning; report afterwards
                errors.append(e)
        if errors:
            raise errors[0]

    def _stop_dnsmasqs(self) -> None:
        state = Path(self.conf.network_agent.state_path) / "dhcp"
        for network_id in dnsmasq.running_networks(state):
            Dnsmasq(state, network_id).stop()

    def _remove_recorded(self) -> None:
        """What the agents recorded as theirs: namespaces (routers and DHCP) first."""
        state = Path(self.conf.network_agent.state_path)
        with Netlink() as host:
            for keeper in (L3, DHCP, L2):
                owned = Owned(state, keeper)
                for name in sorted(owned.names()):
                    if name.startswith(("qdhcp-", "qrouter-")):
                        namespaces.delete(name)
                    else:
                        host.delete_link(name)
                    owned.release(name)

    def _sweep(self) -> None:
        names = {bridge_name(n) for n in self.network_ids}
        names |= {devices.vxlan_device(n) for n in self.network_ids}
        names |= {d for n in self.network_ids for d in devices.patch_devices(n)}
        names |= {device_name(p) for p in self.port_ids}
        names.add(self.public_bridge)
        with Netlink() as host:
            for name in host.link_names():
                if name in names or self.token in name:
                    host.delete_link(name)
        ids = [*self.network_ids, *self.router_ids]
        for name in namespaces.names():
            if name.startswith(self.token) or any(name.endswith(i) for i in ids):
                namespaces.delete(name)


AGENTS = (L2Agent, DhcpAgent, L3Agent)


def _config(root: Path, token: str, octet: int) -> Config:
    vni = random.randint(100_000, 16_000_000)
    path = root / "stratus.conf"
    path.write_text(
        f"""[DEFAULT]
data_dir = {root / "data"}
host = agents-{token}
transport_url = memory://{token}
[identity]
password_hash_cost = 10
[network]
service_password = {SERVICE_PASSWORD}
public_cidr = 198.18.{octet}.0/24
public_bridge = {token}ex
[network_agent]
owner_prefix = {token}
resync_interval = 10
report_interval = 10
[ml2_type_flat]
flat_networks = public
[ml2_type_vlan]
network_vlan_ranges = vlanphys
[linux_bridge]
physical_interface_mappings = vlanphys:{token}ex
[ml2_type_vxlan]
vni_ranges = {vni}:{vni + 50}
"""
    )
    return Config(path)


def _token(client: TestClient, user: str, project: str) -> str:
    auth = {"user": {"name": user, "domain": {"id": "default"}, "password": PASSWORD}}
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": auth},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["x-subject-token"]


def _users(identity: TestClient) -> dict[str, User]:
    """admin, demo, and ``other``: a member of a project of its own."""
    admin = {"X-Auth-Token": _token(identity, "admin", "admin")}
    roles = {r["name"]: r["id"] for r in identity.get("/v3/roles", headers=admin).json()["roles"]}
    project = {"project": {"name": "other", "domain_id": "default"}}
    other_id = identity.post("/v3/projects", json=project, headers=admin).json()["project"]["id"]
    user = {"user": {"name": "other", "password": PASSWORD, "domain_id": "default"}}
    user_id = identity.post("/v3/users", json=user, headers=admin).json()["user"]["id"]
    grant = f"/v3/projects/{other_id}/users/{user_id}/roles/{roles['member']}"
    assert identity.put(grant, headers=admin).status_code == 204
    projects = identity.get("/v3/projects", headers=admin).json()["projects"]
    ids = {p["name"]: p["id"] for p in projects}
    return {
        name: User(name, _token(identity, name, name), ids[name])
        for name in ("admin", "demo", "other")
    }


@pytest.fixture(scope="package")
def cloud() -> Iterator[Cloud]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing tools (see tools/apt/network.txt): {' '.join(missing)}")
    token = "t" + secrets.token_hex(3)
    root = Path(tempfile.mkdtemp(prefix="stratus-agents-test-"))
    root.chmod(0o755)  # dnsmasq re-reads its files as nobody
    conf = _config(root, token, random.randint(0, 255))
    runtime = Runtime(conf)
    bus = connect(f"memory://{token}")
    try:
        bootstrap(
            runtime,
            admin_password=PASSWORD,
            demo_password=PASSWORD,
            service_passwords={"neutron": SERVICE_PASSWORD},
            endpoints=[CatalogEntry("network", "neutron", "http://127.0.0.1:9696")],
            region="RegionOne",
        )
        identity = TestClient(build_identity_app(runtime), base_url="http://127.0.0.1:5000")
        migrations.upgrade("network", runtime.database("network"))
        service = IdentityClient(conf, "network", http=identity)
        backend = make_backend(runtime, lambda: bus)
        bus.serve(topics.SERVER, rpc.ServerEndpoint(backend))
        app = build_app(backend, service)
        with TestClient(app, base_url="http://127.0.0.1:9696") as client:
            built = Cloud(
                token=token,
                runtime=runtime,
                conf=conf,
                client=client,
                users=_users(identity),
                plugging=Plugging(ServiceApi(client, service), bus, conf),
                bus=bus,
                host=conf.get("DEFAULT", "host"),
                public_bridge=conf.network.public_bridge,
                public_gateway=conf.network.public_cidr.replace(".0/24", ".1"),
            )
            try:
                built.start_agents()
                yield built
            finally:
                built.close()
    finally:
        bus.close()
        runtime.close()
        shutil.rmtree(root, ignore_errors=True)
