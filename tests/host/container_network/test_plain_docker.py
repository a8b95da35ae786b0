"""The Docker network plugin as a plain Docker user meets it, through the docker command:
``docker network create --driver <plugin> --ipam-driver <plugin> --opt
stratus.net=<network id>`` and ``docker run --network`` put a container on the Stratus
network with a port's IP and MAC, its veth in the network's bridge like a VM's tap, the
network's gateway as its route out; removing the container and the network leaves
nothing; bad requests fail with the reason; a plugin restarted converges."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import docker

from stratus.container.netplugin.server import PluginServer
from stratus.network.plugging import device_name, peer_name
from stratus.testing.network import NetworkStack
from tests.host.container_network.conftest import (
    Plugins,
    docker_cli,
    eventually,
    links,
    ping,
    plug_namespace,
)


def create_network(plugins: Plugins, *options: str, check: bool = True) -> Any:
    """``docker network create`` with the plugin as driver and IPAM driver."""
    name = f"n-{secrets.token_hex(3)}"
    done = docker_cli(
        "network", "create", "--driver", plugins.name, "--ipam-driver", plugins.name,
        *options, name, check=check,
    )  # fmt: skip
    return name if check else done


def port_of(stack: NetworkStack, network_id: str, ip: str) -> dict[str, Any]:
    query = f"ports?network_id={network_id}&fixed_ips=ip_address={ip}"
    (port,) = stack.ok("GET", query, "admin")["ports"]
    return port


def open_to_ping(stack: NetworkStack, user: str) -> None:
    """Let any address ping the ports of ``user``'s default security group."""
    (group,) = stack.ok("GET", "security-groups?name=default", user)["security_groups"]
    rule = {"direction": "ingress", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"}
    stack.create("security_group_rule", user, security_group_id=group["id"], **rule)


def test_docker_run_on_a_stratus_network(
    stack: NetworkStack, plugins: Plugins, image: str, docker_client: docker.DockerClient
) -> None:
    plugins.start()
    net = stack.network("plain", "10.63.1.0/24")
    docker_net = create_network(plugins, "--opt", f"stratus.net={net['id']}")
    box = f"c-{secrets.token_hex(3)}"
    docker_cli("run", "-d", "--name", box, "--network", docker_net, image, "sleep", "600")

    settings = docker_client.containers.get(box).attrs["NetworkSettings"]["Networks"][docker_net]
    ip, mac = settings["IPAddress"], settings["MacAddress"]
    port = port_of(stack, net["id"], ip)
    assert port["mac_address"] == mac and port["device_owner"] == "kuryr:container"
    assert port["status"] == "ACTIVE" and port["binding:host_id"] == stack.host
    assert port["project_id"] == stack.users["demo"].project_id  # the network's project
    assert device_name(port["id"]) in links() and peer_name(port["id"]) not in links()
    inside = docker_cli("exec", box, "ip", "addr", "show", "eth0").stdout
    assert f"inet {ip}/24" in inside and mac in inside
    routes = docker_cli("exec", box, "ip", "route").stdout
    assert "default via 10.63.1.1 dev eth0" in routes
    assert [line for line in routes.splitlines() if "dev eth0" not in line] == []

    # On the network's L2 segment: its DHCP server, and a namespace on a port of it.
    dhcp = stack.ok("GET", f"ports?network_id={net['id']}&device_owner=network:dhcp", "admin")
    dhcp_ip = dhcp["ports"][0]["fixed_ips"][0]["ip_address"]
    assert docker_cli("exec", box, "ping", "-c", "1", "-W", "2", dhcp_ip).returncode == 0
    peer = plug_namespace(stack, "peer", net["id"], "10.63.1.200", "demo")
    assert ping(peer, ip)  # the default group admits its members
    # Another project's network with the same addresses, open to pings: out of reach.
    theirs = stack.network("theirs", "10.63.1.0/24", user="other")
    open_to_ping(stack, "other")
    far = plug_namespace(stack, "far", theirs["id"], "10.63.1.201", "other")
    assert not ping(far, ip)
    unreached = docker_cli("exec", box, "ping", "-c", "1", "-W", "1", "10.63.1.201", check=False)
    assert unreached.returncode != 0
    assert ping(peer, ip)

    docker_cli("rm", "-f", box)
    assert device_name(port["id"]) not in links()
    assert stack.call("GET", f"ports/{port['id']}", "admin").status_code == 404
    docker_cli("network", "rm", docker_net)
    assert plugins.docker_networks() == []
    state = plugins.running[0].plugin.state
    assert (state.pools, state.addresses, state.endpoints, state.networks) == ({}, {}, {}, {})


def test_bad_requests_say_what_is_wrong(stack: NetworkStack, plugins: Plugins, image: str) -> None:
    plugins.start()
    net = stack.network("bad", "10.63.2.0/24")
    bare = stack.create("network", name="bare")
    missing = str(uuid.uuid4())
    for options, message in (
        ((), "Say which Stratus network this is: --opt stratus.net=<network id>"),
        (("--opt", f"stratus.net={missing}"), f"Network {missing} does not exist"),
        (("--ipam-opt", f"stratus.net={missing}"), f"Network {missing} does not exist"),
        (("--opt", f"stratus.net={bare['id']}"), f"Network {bare['id']} has no IPv4 subnet"),
        (
            ("--subnet", "10.63.9.0/24", "--opt", f"stratus.net={net['id']}"),
            f"Network {net['id']} has no subnet 10.63.9.0/24",
        ),
        (("--ip-range", "10.63.2.0/25", "--subnet", "10.63.2.0/24"), "--ip-range is not"),
    ):
        done = create_network(plugins, *options, check=False)
        assert done.returncode != 0 and message in done.stderr, (options, done.stderr)
    without_ipam = docker_cli(
        "network", "create", "--driver", plugins.name, "--opt", f"stratus.net={net['id']}",
        f"n-{secrets.token_hex(3)}", check=False,
    )  # fmt: skip
    assert without_ipam.returncode != 0 and "--ipam-driver" in without_ipam.stderr

    # An address another port holds.
    docker_net = create_network(
        plugins, "--subnet", "10.63.2.0/24", "--opt", f"stratus.net={net['id']}"
    )
    held = stack.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.63.2.50"}])
    box = f"c-{secrets.token_hex(3)}"
    run = docker_cli(
        "run", "-d", "--name", box, "--network", docker_net, "--ip", "10.63.2.50", image,
        "sleep", "60", check=False,
    )  # fmt: skip
    docker_cli("rm", "-f", box)  # made, never started
    assert run.returncode != 0 and f"Address 10.63.2.50 is held by port {held['id']}" in run.stderr
    docker_cli("network", "rm", docker_net)
    state = plugins.running[0].plugin.state
    assert (state.pools, state.addresses, state.endpoints, state.networks) == ({}, {}, {}, {})
    made = stack.ok("GET", f"ports?network_id={net['id']}&device_owner=kuryr:container", "admin")
    assert made["ports"] == []


def test_a_restarted_plugin_removes_what_docker_let_go(
    stack: NetworkStack, plugins: Plugins, image: str
) -> None:
    plugin = plugins.start()
    net = stack.network("restart", "10.63.3.0/24")
    docker_net = create_network(plugins, "--opt", f"stratus.net={net['id']}")
    box = f"c-{secrets.token_hex(3)}"
    docker_cli("run", "-d", "--name", box, "--network", docker_net, image, "sleep", "600")
    (port,) = stack.ok(
        "GET", f"ports?network_id={net['id']}&device_owner=kuryr:container", "admin"
    )["ports"]
    # The plugin dies while Docker removes the container (it answers nothing from
    # DeleteEndpoint on): the container goes, its end of the veth is back on the host,
    # and nothing unplugs it.
    plugins.stop()
    routes = plugin.plugin.routes()
    dead = ("/NetworkDriver.DeleteEndpoint", "/IpamDriver.ReleaseAddress")
    broken = PluginServer(plugins.name, {**routes, **{path: _fail for path in dead}})
    broken.start()
    try:
        docker_cli("rm", "-f", box)
    finally:
        broken.stop()
    assert {device_name(port["id"]), peer_name(port["id"])} <= links()
    assert stack.port(port["id"])["status"] == "ACTIVE"

    restarted = plugins.start()
    eventually(lambda: device_name(port["id"]) not in links())
    assert peer_name(port["id"]) not in links()
    eventually(lambda: stack.call("GET", f"ports/{port['id']}", "admin").status_code == 404)
    assert restarted.plugin.state.endpoints == {}
    docker_cli("network", "rm", docker_net)
    assert restarted.plugin.state.networks == {}


def _fail(body: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this plugin is broken")
