"""The real ``openstack appcontainer`` client (python-zunclient's plugin) against the
container API served on a socket (with the in-memory engine) and the real network
service: run on a network with a fixed IP and a security group, or on a given port;
network attach, list and detach; add and remove security group; delete frees the ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zunclient import client as zunclient

from stratus.testing import container
from stratus.testing.cloud import BIN, free_port, run_command
from stratus.testing.container import Env
from stratus.testing.identity import InProcessIdentity
from stratus.testing.serve import serve
from tests.api.container.test_networking import group_id, net, network, ports_of


@pytest.fixture(scope="module")
def api_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def identity(
    tmp_path_factory: pytest.TempPathFactory, api_port: int
) -> Iterator[InProcessIdentity]:
    """Identity whose catalog lists the container API where this module serves it."""
    root = tmp_path_factory.mktemp("cli-identity")
    identity = container.identity(root, container_url=f"http://127.0.0.1:{api_port}")
    yield identity
    identity.close()


def test_networks_with_the_openstack_client(env: Env, api_port: int, tmp_path: Path) -> None:
    env.image()
    net1 = network(env, "net1", "10.0.0.0/24")
    net2 = network(env, "net2", "10.2.0.0/24")
    net(env, "POST", "security-groups", json={"security_group": {"name": "web"}})
    web, default = group_id(env, "web"), group_id(env, "default")
    given = net(env, "POST", "ports", json={"port": {"network_id": net2}})["port"]
    with serve(env.identity.client.app) as identity_url, serve(env.app, port=api_port):
        cli_env = container.demo_cli_env(identity_url, tmp_path)

        def openstack(*args: str) -> str:
            command = [str(BIN / "openstack"), "appcontainer", *args]
            return run_command(command, check=True, env=cli_env).stdout

        def shown(name: str) -> dict[str, Any]:
            return json.loads(openstack("show", name, "-f", "json"))

        net1_at = "network=net1,v4-fixed-ip=10.0.0.9"
        openstack("run", "--name", "con1", "--net", net1_at, "--security-group", "web", "busybox")
        con1 = env.wait_status("con1", "Running")["uuid"]
        assert (shown("con1")["addresses"], shown("con1")["networks"]) == ("10.0.0.9", net1)
        [made] = ports_of(env, con1)
        assert made["security_groups"] == [web]

        said = openstack(
            "network", "attach", "--network", "net2", "--fixed-ip", "10.2.0.20", "con1"
        )
        assert "accepted" in said, said
        # ``openstack appcontainer network list`` itself fails once a container has a
        # network: python-zunclient formats fixed_ips with a plain function, which this
        # osc-lib refuses ("Invalid formatter provided."). Its Python API reads the list.
        zun = zunclient.Client(
            "1.40",
            endpoint_override=f"http://127.0.0.1:{api_port}/v1",
            auth_token=env.users["demo"].token,
        )
        listed = zun.containers.network_list("con1")
        assert sorted((n.net_id, n.fixed_ips[0]["ip_address"]) for n in listed) == sorted(
            [(net1, "10.0.0.9"), (net2, "10.2.0.20")]
        )
        assert "accepted" in openstack("network", "detach", "--network", "net2", "con1")
        assert [p["id"] for p in ports_of(env, con1)] == [made["id"]]

        assert "accepted" in openstack("add", "security", "group", "con1", "default")
        assert "accepted" in openstack("remove", "security", "group", "con1", "web")
        assert ports_of(env, con1)[0]["security_groups"] == [default]

        openstack("run", "--name", "con2", "--net", f"port={given['id']}", "busybox")
        con2 = env.wait_status("con2", "Running")["uuid"]
        assert shown("con2")["addresses"] == given["fixed_ips"][0]["ip_address"]

        openstack("delete", "--stop", "con1", "con2")
        for uuid in (con1, con2):
            env.gone(uuid)
    assert net(env, "GET", "ports", params={"id": made["id"]})["ports"] == []
    assert net(env, "GET", f"ports/{given['id']}")["port"]["device_id"] == ""
