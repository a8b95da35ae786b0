"""The network data plane in one process, for host tests and benchmarks: the identity and
network APIs (in-process HTTP, SQLite), the L2, DHCP and L3 agents on the in-process
bus, and port plugging, all on this host's kernel.

Everything a stack makes carries a random token (``t`` + 6 hex digits): the agents'
firewall/NAT owner prefix, the public bridge (``<token>ex``, with a random /24 of
198.18.0.0/15, the benchmarking range, which is never routed), the bus, the host name,
and namespaces made with :meth:`NetworkStack.namespace`; bridges, veths and the agents'
namespaces are named by the ids of this stack's networks, ports and routers. A stack
running on the same host as a cloud, or as another stack, never touches their objects.
:meth:`NetworkStack.close` removes everything, also after a failure: the agents stop
first, then their dnsmasq processes, firewall, recorded objects, and a sweep by name.

Needs root, and dnsmasq, iptables, ipset, nft and busybox (udhcpc).
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
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
from stratus.network.plugging import Plugging
from stratus.runtime import migrations
from stratus.runtime.bus import Bus, connect
from stratus.runtime.config import Config
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime

TOOLS = ("iptables-restore", "ipset", "nft", "dnsmasq", "dhcp_release", "ping", "busybox")
PASSWORD = "secret-password"
SERVICE_PASSWORD = "neutron-secret"
AGENTS = (L2Agent, DhcpAgent, L3Agent)
_DHCP_SCRIPT = """#!/bin/sh
[ "$1" = bound ] && env > "$LEASE_FILE"
exit 0
"""


@dataclass(frozen=True)
class User:
    name: str
    token: str
    project_id: str


class ServiceApi:
    """The network API as the network service's own user (what plugging calls)."""

    def __init__(self, client: TestClient, identity: IdentityClient) -> None:
        self.client = client
        self.identity = identity

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.identity.service_token()}
        return self.client.request(method, path, headers=headers, **kwargs)


@dataclass
class NetworkStack:
    """Users ``admin``, ``demo`` and ``other`` (a member of a project of its own)."""

    token: str
    runtime: Runtime
    client: TestClient
    users: dict[str, User]
    plugging: Plugging
    bus: Bus
    runners: list[loop.Runner] = field(default_factory=list)
    network_ids: list[str] = field(default_factory=list)
    port_ids: list[str] = field(default_factory=list)
    router_ids: list[str] = field(default_factory=list)

    @property
    def conf(self) -> Config:
        return self.runtime.conf

    @property
    def host(self) -> str:
        return self.conf.get("DEFAULT", "host")

    @property
    def public_bridge(self) -> str:
        return self.conf.network.public_bridge

    @property
    def public_gateway(self) -> str:
        return self.conf.network.public_cidr.replace(".0/24", ".1")

    @property
    def state_path(self) -> Path:
        return Path(self.conf.network_agent.state_path)

    # -- the API -----------------------------------------------------------------------

    def call(self, method: str, path: str, user: str = "demo", **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.users[user].token}
        return self.client.request(method, f"/v2.0/{path}", headers=headers, **kw)

    def ok(self, method: str, path: str, user: str = "demo", **kw: Any) -> Any:
        """The decoded body of a call that must succeed."""
        response = self.call(method, path, user, **kw)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def create(self, kind: str, user: str = "demo", **body: Any) -> dict[str, Any]:
        path = {"security_group": "security-groups", "security_group_rule": "security-group-rules"}
        made = self.ok("POST", path.get(kind, f"{kind}s"), user, json={kind: body})[kind]
        made_ids = {"network": self.network_ids, "port": self.port_ids, "router": self.router_ids}
        made_ids.get(kind, []).append(made["id"])
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

    def namespace(self, name: str) -> str:
        """A namespace named ``<token>-<name>`` (removed by close)."""
        namespace = f"{self.token}-{name}"
        namespaces.create(namespace)
        return namespace

    def lease(self, namespace: str, eth: str) -> str:
        """Run udhcpc once on ``eth`` in the namespace; give it the lease's address and
        default route, and return the address."""
        work = self.conf.data_dir
        script = work / "udhcpc.sh"
        if not script.exists():
            script.write_text(_DHCP_SCRIPT)
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
        if done.returncode != 0:
            raise AssertionError(f"no DHCP lease on {eth} in {namespace}: {done.stderr}")
        lease = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        with Netlink(namespace) as ns:
            ns.set_addresses(eth, [f"{lease['ip']}/{lease['mask']}"])
            if lease.get("router"):
                ns.ensure_route("0.0.0.0/0", gateway=lease["router"].split()[0])
        return lease["ip"]

    # -- what is left on the host ------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Host objects of this stack's networks, ports and routers, its dnsmasq processes,
        firewall and records, that still exist."""
        found = []
        with Netlink() as host:
            links = set(host.link_names())
        for network_id in self.network_ids:
            found += sorted(_network_links(network_id) & links)
            if namespaces.exists(dhcp_namespace(network_id)):
                found.append(dhcp_namespace(network_id))
        found += sorted({devices.port_device(p) for p in self.port_ids} & links)
        found += [
            router_namespace(r) for r in self.router_ids if namespaces.exists(router_namespace(r))
        ]
        found += [f"dnsmasq {n}" for n in dnsmasq.running_networks(self.state_path / "dhcp")]
        for tool in ("iptables-save", "ip6tables-save"):
            saved = subprocess.run([tool], capture_output=True, text=True).stdout
            found += [f"{tool}: {line}" for line in saved.splitlines() if f"{self.token}-" in line]
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        found += [line for line in tables.splitlines() if line.split()[-1:] == [self.token]]
        found += ipsets.names(self.token)
        for keeper in (L2, DHCP, L3):
            found += [f"record {keeper}/{n}" for n in Owned(self.state_path, keeper).names()]
        return found

    def close(self) -> None:
        """Remove everything of this stack, each step even if an earlier one failed."""
        try:
            self.stop_agents()
        finally:
            clean_host(
                self.token,
                self.state_path,
                self.public_bridge,
                self.network_ids + self.router_ids,
                self.port_ids,
            )


def clean_host(
    token: str, state_path: Path, public_bridge: str, ids: list[str], port_ids: list[str]
) -> None:
    """Remove what stopped agents of the owner prefix ``token`` left on this host: their
    dnsmasq processes, firewall, recorded objects, and by name whatever belongs to the
    networks and routers ``ids`` and the ports ``port_ids``; each step even if an earlier
    one failed."""
    steps: list[Callable[[], None]] = [
        lambda: _stop_dnsmasqs(state_path),
        lambda: firewall.remove_all(prefix=token),
        lambda: _remove_recorded(state_path),
        lambda: _sweep(token, public_bridge, ids, port_ids),
    ]
    errors = []
    for step in steps:
        try:
            step()
        except Exception as e:  # keep cleaning; report afterwards
            errors.append(e)
    if errors:
        raise errors[0]


def _stop_dnsmasqs(state_path: Path) -> None:
    state = state_path / "dhcp"
    for network_id in dnsmasq.running_networks(state):
        Dnsmasq(state, network_id).stop()


def _remove_recorded(state_path: Path) -> None:
    """What the agents recorded as theirs: namespaces (routers and DHCP) first."""
    with Netlink() as host:
        for keeper in (L3, DHCP, L2):
            owned = Owned(state_path, keeper)
            for name in sorted(owned.names()):
                if name.startswith((dhcp_namespace(""), router_namespace(""))):
                    namespaces.delete(name)
                else:
                    host.delete_link(name)
                owned.release(name)


def _sweep(token: str, public_bridge: str, ids: list[str], port_ids: list[str]) -> None:
    names = {n for network_id in ids for n in _network_links(network_id)}
    names |= {devices.port_device(p) for p in port_ids}
    names.add(public_bridge)
    with Netlink() as host:
        for name in host.link_names():
            if name in names or token in name:
                host.delete_link(name)
    for name in namespaces.names():
        if name.startswith(token) or any(name.endswith(i) for i in ids):
            namespaces.delete(name)


def _network_links(network_id: str) -> set[str]:
    return {
        bridge_name(network_id),
        devices.vxlan_device(network_id),
        *devices.patch_devices(network_id),
    }


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


S = TypeVar("S", bound=NetworkStack)


@contextmanager
def running_stack(extra_config: str = "", stack_class: type[S] = NetworkStack) -> Iterator[S]:
    """A stack with its agents started; closed (and its directory removed) afterwards.
    ``extra_config`` is appended to the config file, ``{token}`` in it replaced by the
    stack's token."""
    token = "t" + secrets.token_hex(3)
    root = Path(tempfile.mkdtemp(prefix="stratus-network-stack-"))
    root.chmod(0o755)  # dnsmasq re-reads its files as nobody
    runtime = Runtime(_config(root, token, extra_config.replace("{token}", token)))
    bus = connect(f"memory://{token}")
    try:
        identity = _identity(runtime)
        migrations.upgrade("network", runtime.database("network"))
        service = IdentityClient(runtime.conf, "network", http=identity)
        backend = make_backend(runtime, lambda: bus)
        bus.serve(topics.SERVER, rpc.ServerEndpoint(backend))
        app = build_app(backend, service)
        with TestClient(app, base_url="http://127.0.0.1:9696") as client:
            stack = stack_class(
                token=token,
                runtime=runtime,
                client=client,
                users=_users(identity),
                plugging=Plugging(ServiceApi(client, service), bus, runtime.conf),
                bus=bus,
            )
            try:
                stack.start_agents()
                yield stack
            finally:
                stack.close()
    finally:
        bus.close()
        runtime.close()
        shutil.rmtree(root, ignore_errors=True)


def unrouted_cidr() -> str:
    """A /24 of the benchmarking range 198.18.0.0/15 (never routed) that the host has no
    route into yet: no other cloud or test on this host uses it."""
    with Netlink() as host:
        taken = [ipaddress.ip_network(dst) for dst in host.routes() if ":" not in dst]
    for _ in range(100):
        net = ipaddress.ip_network(f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.0/24")
        if not any(net.overlaps(t) for t in taken if t.prefixlen):
            return str(net)
    raise RuntimeError("no /24 of 198.18.0.0/15 is free of routes on this host")


def isolated_config(token: str) -> dict[str, dict[str, str]]:
    """Config that keeps a cloud's data plane apart from any other on this host: its own
    public bridge and /24 (see :func:`unrouted_cidr`), firewall owner prefix and VXLAN
    VNIs (VNIs are per host)."""
    vni = random.randint(100_000, 16_000_000)
    return {
        "network": {"public_cidr": unrouted_cidr(), "public_bridge": f"{token}ex"},
        "network_agent": {"owner_prefix": token, "resync_interval": "10", "report_interval": "10"},
        "ml2_type_flat": {"flat_networks": "*"},
        "ml2_type_vxlan": {"vni_ranges": f"{vni}:{vni + 50}"},
    }


def render_ini(sections: dict[str, dict[str, str]]) -> str:
    return "".join(
        f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in options.items())
        for name, options in sections.items()
    )


def _config(root: Path, token: str, extra: str) -> Config:
    sections = {
        "DEFAULT": {
            "data_dir": str(root / "data"),
            "host": f"agents-{token}",
            "transport_url": f"memory://{token}",
        },
        "identity": {"password_hash_cost": "10"},
        **isolated_config(token),
    }
    sections["network"]["service_password"] = SERVICE_PASSWORD
    path = root / "stratus.conf"
    path.write_text(render_ini(sections) + extra)
    return Config(path)


def _identity(runtime: Runtime) -> TestClient:
    bootstrap(
        runtime,
        admin_password=PASSWORD,
        demo_password=PASSWORD,
        service_passwords={"neutron": SERVICE_PASSWORD},
        endpoints=[CatalogEntry("network", "neutron", "http://127.0.0.1:9696")],
        region="RegionOne",
    )
    return TestClient(build_identity_app(runtime), base_url="http://127.0.0.1:5000")


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
