"""The container agent's side of container networking on the real Docker Engine: ports
the API reserved for a container (device owner ``compute:kuryr``) are plugged as the
spec's ``ports`` list them, through a Docker network per Stratus network and the network
plugin; network_attach and network_detach plug and unplug one more; a capsule's port is
its sandbox's; stopping a container unbinds its ports and deleting it leaves no veth and
no Docker network, and never deletes a port the API made."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import pytest

from stratus.container import states
from stratus.container.agent import network_subnets, port_binder
from stratus.container.agent.docker import DockerDriver, container_name, sandbox_name
from stratus.container.agent.docker_networks import network_name
from stratus.container.agent.manager import ContainerAgent
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.network.plugging import device_name
from stratus.runtime.clients.network import NetworkApi
from stratus.testing.container import agent_spec
from stratus.testing.network import NetworkStack
from tests.host.container_network.conftest import Plugins, docker_cli, eventually, links


@dataclass
class Conductor:
    """Stands in for the API's conductor: records the states reported."""

    states: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def report_state(self, uuid: str, status: str, reason: str | None = None, **_: Any) -> None:
        with self.changed:
            self.states[uuid] = (status, reason)
            self.changed.notify_all()

    def report_deleted(self, uuid: str) -> None:
        self.report_state(uuid, "deleted")

    def wait(self, uuid: str, status: str) -> str | None:
        """The reason of the container's state, once it is reported as ``status``."""
        with self.changed:
            reported = self.changed.wait_for(lambda: uuid in self.states, timeout=30)
            assert reported, f"nothing reported of {uuid}"
            self.changed.wait_for(lambda: self.states[uuid][0] == status, timeout=5)
            assert self.states[uuid][0] == status, self.states[uuid]
            return self.states[uuid][1]


@dataclass
class Env:
    stack: NetworkStack
    plugins: Plugins
    agent: ContainerAgent
    conductor: Conductor
    image: str
    client: docker.DockerClient

    def reserve(self, network: dict[str, Any], container: str, **fields: Any) -> dict[str, Any]:
        """A port as the container API makes one, as the agent gets it."""
        port = self.stack.create(
            "port",
            network_id=network["id"],
            device_owner="compute:kuryr",
            device_id=container,
            **fields,
        )
        return {k: port["id" if k == "port_id" else k] for k in _PORT_FIELDS}

    def spec(self, ports: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        base = {"image": self.image, "command": ["sleep", "600"], "capsule_id": None}
        return agent_spec(**{**base, "ports": ports, **fields})

    def run(self, spec: dict[str, Any]) -> str:
        self.agent.create(spec, start=True)
        self.conductor.wait(spec["uuid"], states.RUNNING)
        return spec["uuid"]

    def port(self, port: dict[str, Any]) -> dict[str, Any]:
        return self.stack.port(port["port_id"])

    def addresses(self, container: str) -> str:
        return docker_cli("exec", container, "ip", "addr").stdout


_PORT_FIELDS = ("port_id", "network_id", "mac_address", "fixed_ips")


def interfaces(shown: str) -> dict[str, str]:
    """``ip addr``'s output, by interface name."""
    found: dict[str, str] = {}
    name = ""
    for line in shown.splitlines():
        if line[:1].isdigit():
            name = line.split(":")[1].strip().split("@")[0]
        found[name] = found.get(name, "") + line + "\n"
    return found


def ip(port: dict[str, Any]) -> str:
    return str(port["fixed_ips"][0]["ip_address"])


@pytest.fixture
def env(
    stack: NetworkStack, plugins: Plugins, image: str, docker_client: docker.DockerClient
) -> Iterator[Env]:
    plugins.start()
    driver = DockerDriver(
        "unix:///var/run/docker.sock",
        stack.host,
        network_plugin=plugins.name,
        subnets=network_subnets(NetworkApi(plugins.network)),
        bind=port_binder(NetworkApi(plugins.network), stack.bus, stack.host),
    )
    conductor = Conductor()
    listener = stack.bus.serve(CONDUCTOR_TOPIC, conductor)
    agent = ContainerAgent(stack.bus, driver, stack.host, "nova", lambda _: lambda: iter(()))
    made = Env(stack, plugins, agent, conductor, image, docker_client)
    try:
        yield made
    finally:
        listener.stop()
        for container in driver.states():
            driver.delete(container)


def test_a_container_on_the_ports_the_api_reserved(env: Env) -> None:
    stack = env.stack
    a = stack.network("agent-a", "10.64.1.0/24")
    b = stack.network("agent-b", "10.64.2.0/24")
    box = str(uuid.uuid4())
    pa = env.reserve(a, box, fixed_ips=[{"ip_address": "10.64.1.77"}])
    pb = env.reserve(b, box)
    env.run(env.spec([pa, pb], uuid=box))
    name = container_name(box)

    shown = interfaces(env.addresses(name))
    for port in (pa, pb):  # on eth0 and eth1, in the order Docker joins the networks
        (eth,) = [eth for eth, text in shown.items() if f"inet {ip(port)}/24" in text]
        assert eth.startswith("eth") and port["mac_address"] in shown[eth]
        bound = env.port(port)
        assert bound["status"] == "ACTIVE" and bound["binding:host_id"] == stack.host
        assert (bound["device_owner"], bound["device_id"]) == ("compute:kuryr", box)
        assert device_name(port["port_id"]) in links()
    made = stack.ok("GET", "ports?device_owner=kuryr:container", "admin")["ports"]
    assert [p for p in made if p["network_id"] in (a["id"], b["id"])] == []
    dhcp = stack.ok("GET", f"ports?network_id={a['id']}&device_owner=network:dhcp", "admin")
    dhcp_ip = dhcp["ports"][0]["fixed_ips"][0]["ip_address"]
    assert docker_cli("exec", name, "ping", "-c", "1", "-W", "2", dhcp_ip).returncode == 0

    # Detach and attach again, while it runs.
    env.agent.network_detach(box, pb["port_id"])
    assert f"inet {ip(pb)}/" not in env.addresses(name)
    assert device_name(pb["port_id"]) not in links()
    kept = env.port(pb)
    assert kept["binding:host_id"] == "" and kept["device_owner"] == "compute:kuryr"
    assert env.client.networks.list(names=[network_name(b["id"])]) == []  # no one uses it
    env.agent.network_detach(box, pb["port_id"])  # nothing left to detach
    env.agent.network_attach(box, pb)
    assert f"inet {ip(pb)}/24" in env.addresses(name)
    assert env.port(pb)["status"] == "ACTIVE"
    assert env.conductor.wait(box, states.RUNNING) is None

    # Stopped, its ports are unplugged and let go; started, plugged again.
    env.agent.stop(box, 1)
    for port in (pa, pb):
        assert env.port(port)["binding:host_id"] == ""
        assert device_name(port["port_id"]) not in links()
    env.agent.start(box)
    assert f"inet {ip(pa)}/24" in env.addresses(name)
    eventually(lambda: env.port(pa)["status"] == "ACTIVE")

    env.agent.delete(box)
    for port in (pa, pb):
        assert env.port(port)["binding:host_id"] == ""  # the API frees (or deletes) it
        assert device_name(port["port_id"]) not in links()
    for network in (a, b):
        assert env.client.networks.list(names=[network_name(network["id"])]) == []
    env.conductor.wait(box, "deleted")


def test_a_containers_ports_are_bound_here_when_it_is_made(env: Env) -> None:
    """Before Docker plugs them at start: the L2 agent puts their security groups in
    force meanwhile, and the plugin, at start, finds it done."""
    network = env.stack.network("agent-early", "10.64.5.0/24")
    box = str(uuid.uuid4())
    port = env.reserve(network, box)
    env.agent.create(env.spec([port], uuid=box), start=False)
    assert env.conductor.wait(box, states.CREATED) is None
    bound = env.port(port)
    assert (bound["binding:host_id"], bound["status"]) == (env.stack.host, "DOWN")
    assert device_name(port["port_id"]) not in links()  # plugged only at start
    env.agent.start(box)
    assert env.conductor.wait(box, states.RUNNING) is None
    assert env.port(port)["status"] == "ACTIVE"
    env.agent.delete(box)


def test_a_capsule_holds_its_port_in_its_sandbox(env: Env) -> None:
    net = env.stack.network("capsule", "10.64.3.0/24")
    capsule_id = str(uuid.uuid4())
    port = env.reserve(net, capsule_id)
    first = env.run(env.spec([port], capsule_id=capsule_id))
    second = env.run(env.spec([port], capsule_id=capsule_id))
    for member in (first, second):
        assert f"inet {ip(port)}/24" in env.addresses(container_name(member))
    sandbox = env.client.containers.get(sandbox_name(capsule_id))
    assert list(sandbox.attrs["NetworkSettings"]["Networks"]) == [network_name(net["id"])]
    assert env.port(port)["status"] == "ACTIVE"

    env.agent.delete(first)
    assert f"inet {ip(port)}/24" in env.addresses(container_name(second))
    env.agent.delete(second)
    assert device_name(port["port_id"]) not in links()
    assert env.port(port)["binding:host_id"] == ""
    assert env.client.networks.list(names=[network_name(net["id"])]) == []


def test_a_port_that_cannot_be_plugged_is_the_containers_error(env: Env) -> None:
    net = env.stack.network("taken", "10.64.4.0/24")
    box = str(uuid.uuid4())
    port = env.reserve(net, box)
    env.stack.ok(
        "PUT", f"ports/{port['port_id']}", "admin", json={"port": {"binding:host_id": "elsewhere"}}
    )
    env.agent.create(env.spec([port], uuid=box), start=True)
    reason = env.conductor.wait(box, states.ERROR) or ""
    assert f"is held by port {port['port_id']} (bound to host elsewhere)" in reason
    assert device_name(port["port_id"]) not in links()
    assert env.client.containers.list(all=True, filters={"name": container_name(box)}) == []


def test_a_container_made_without_ports_gets_one_attached(env: Env) -> None:
    net = env.stack.network("later", "10.64.5.0/24")
    box = env.run(env.spec([]))
    assert "eth0" not in interfaces(env.addresses(container_name(box)))
    port = env.reserve(net, box)
    env.agent.network_attach(box, port)
    assert env.conductor.wait(box, states.RUNNING) is None
    assert f"inet {ip(port)}/24" in interfaces(env.addresses(container_name(box)))["eth0"]
    assert env.port(port)["status"] == "ACTIVE"
