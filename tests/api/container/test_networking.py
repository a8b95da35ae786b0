"""Containers on networks of the real network service (Neutron API, in-process): the API
checks nets with the caller's token, makes the ports (device owner compute:kuryr, the
container's uuid as device id) before the agent hears of the container, shows them as
Zun's addresses, and frees them when the container goes: ports it made are deleted,
ports it was given are let go. Bad nets are a 4xx that leaves no port behind."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import httpx
import pytest

from stratus.container.networking import DEVICE_OWNER, MADE_TAG
from tests.api.container.conftest import Env

BAD_PORT = "1b5ecb39-0000-4000-8000-000000000000"
POD = {  # a capsule of two containers on net1
    "kind": "capsule",
    "metadata": {"name": "pod"},
    "nets": [{"network": "net1"}],
    "spec": {
        "containers": [
            {"image": "busybox", "command": ["sleep", "60"]},
            {"image": "busybox", "command": ["sleep", "61"]},
        ]
    },
}


def net(env: Env, method: str, path: str, user: str = "demo", **kwargs: Any) -> Any:
    """A request to the network API that must succeed; its body."""
    response = env.network.request(
        method, f"/v2.0/{path}", headers=env.users[user].headers, **kwargs
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def network(env: Env, name: str, cidr: str | None, user: str = "demo", **extra: Any) -> str:
    """A network (with a subnet of ``cidr``, unless None); its id."""
    body = {"network": {"name": name, **extra}}
    network_id = net(env, "POST", "networks", user, json=body)["network"]["id"]
    if cidr:
        subnet = {"network_id": network_id, "cidr": cidr, "ip_version": 4}
        net(env, "POST", "subnets", user, json={"subnet": subnet})
    return network_id


def ports_of(env: Env, device_id: str) -> list[dict[str, Any]]:
    return net(env, "GET", "ports", "admin", params={"device_id": device_id})["ports"]


def group_id(env: Env, name: str, user: str = "demo") -> str:
    groups = net(env, "GET", "security-groups", user, params={"name": name})["security_groups"]
    assert len(groups) == 1, groups
    return groups[0]["id"]


def refused(env: Env, body: dict[str, Any], status: int, user: str = "demo") -> str:
    """A create that must fail with ``status`` and a Zun error body; its message."""
    body = {"image": "busybox", "command": ["sleep", "60"], **body}
    response = env.call("POST", "/v1/containers?run=true", user, json=body)
    assert response.status_code == status, (body, response.text)
    error = response.json()["errors"][0]
    assert error["status"] == status and error["title"] == error["detail"]
    return error["title"]


def spy_on_agent(env: Env, *methods: str) -> list[tuple[str, dict[str, Any]]]:
    """What the API casts to the agent's ``methods`` (which still run, if it has them)."""
    casts: list[tuple[str, dict[str, Any]]] = []
    for name in methods:
        real = getattr(env.agent, name, None)

        def spy(name: str = name, real: Any = real, **kwargs: Any) -> None:
            casts.append((name, kwargs))
            if real is not None:
                real(**kwargs)

        setattr(env.agent, name, spy)
    return casts


@pytest.fixture
def net1(env: Env) -> str:
    env.image()
    return network(env, "net1", "10.0.0.0/24")


def test_run_on_a_network_by_name(env: Env, net1: str) -> None:
    created = env.run(nets=[{"network": "net1"}])
    uuid = created["uuid"]
    [address] = created["addresses"][net1]
    assert address["addr"].startswith("10.0.0.") and address["version"] == 4
    assert address["preserve_on_delete"] is False and address["subnet_id"]
    default = group_id(env, "default")
    assert created["security_groups"] == [default]
    [port] = ports_of(env, uuid)
    assert port["id"] == address["port"]
    assert (port["device_owner"], port["security_groups"]) == ("compute:kuryr", [default])
    assert port["project_id"] == env.users["demo"].project_id
    shown = env.wait_status(uuid, "Running")
    assert shown["addresses"] == created["addresses"]
    listed = env.call("GET", "/v1/containers").json()["containers"]
    assert listed[0]["addresses"] == created["addresses"]
    spec = env.driver.containers[uuid]["spec"]  # what the agent was given to plug
    assert spec["ports"] == [
        {
            "port_id": port["id"],
            "network_id": net1,
            "mac_address": port["mac_address"],
            "fixed_ips": port["fixed_ips"],
        }
    ]
    assert env.call("DELETE", f"/v1/containers/{uuid}?stop=True").status_code == 204
    env.gone(uuid)
    assert ports_of(env, uuid) == []


def test_fixed_ip_and_security_groups(env: Env, net1: str) -> None:
    net(env, "POST", "security-groups", json={"security_group": {"name": "web"}})
    web = group_id(env, "web")
    created = env.run(
        nets=[{"network": net1, "v4-fixed-ip": "10.0.0.9"}], security_groups=["web", web]
    )
    assert [a["addr"] for a in created["addresses"][net1]] == ["10.0.0.9"]
    assert created["security_groups"] == [web]
    [port] = ports_of(env, created["uuid"])
    assert port["security_groups"] == [web]
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.9"
    v6 = {"network_id": net1, "cidr": "fd00:1::/64", "ip_version": 6}
    net(env, "POST", "subnets", json={"subnet": v6})
    dual = env.run(nets=[{"network": net1, "v6-fixed-ip": "fd00:1::9"}])
    shown = {(a["version"], a["addr"]) for a in dual["addresses"][net1]}
    assert (6, "fd00:1::9") in shown and {v for v, _ in shown} == {4, 6}  # an IPv4 one too


def test_a_given_port_is_taken_and_let_go(env: Env, net1: str) -> None:
    given = net(env, "POST", "ports", json={"port": {"network_id": net1}})["port"]
    created = env.run(nets=[{"port": given["id"]}])
    uuid = created["uuid"]
    [address] = created["addresses"][net1]
    assert address["port"] == given["id"] and address["preserve_on_delete"] is True
    assert address["addr"] == given["fixed_ips"][0]["ip_address"]
    taken = net(env, "GET", f"ports/{given['id']}")["port"]
    assert (taken["device_id"], taken["device_owner"]) == (uuid, "compute:kuryr")
    assert taken["security_groups"] == given["security_groups"]  # a given port keeps its own
    assert "in use" in refused(env, {"nets": [{"port": given["id"]}]}, 409)
    env.wait_status(uuid, "Running")
    assert env.call("DELETE", f"/v1/containers/{uuid}?stop=True").status_code == 204
    env.gone(uuid)
    kept = net(env, "GET", f"ports/{given['id']}", "admin")["port"]
    assert (kept["device_id"], kept["device_owner"], kept["binding:host_id"]) == ("", "", "")


def test_bad_nets_are_4xx_and_leave_no_port(env: Env, net1: str) -> None:
    theirs = network(env, "theirs", "10.3.0.0/24", user="other")
    bare = network(env, "bare", None)
    only_v6 = network(env, "only-v6", None)
    v6 = {"network_id": only_v6, "cidr": "fd00:2::/64", "ip_version": 6}
    net(env, "POST", "subnets", json={"subnet": v6})
    no_ip = net(env, "POST", "ports", json={"port": {"network_id": bare}})["port"]
    public = network(env, "public", "172.24.4.0/24", user="admin", **{"router:external": True})
    net2 = network(env, "net2", "10.2.0.0/24")
    taken = net(env, "POST", "ports", json={"port": {"network_id": net2}})["port"]
    taken_ip = taken["fixed_ips"][0]["ip_address"]
    bound = net(env, "POST", "ports", json={"port": {"network_id": net2, "device_id": "vm"}})
    their_port = net(env, "POST", "ports", "other", json={"port": {"network_id": theirs}})
    net(env, "POST", "security-groups", json={"security_group": {"name": "twin"}})
    net(env, "POST", "security-groups", json={"security_group": {"name": "twin"}})
    for body, status, says in (
        ({"nets": [{"network": "nowhere"}]}, 404, "Network nowhere could not be found"),
        ({"nets": [{"network": theirs}]}, 404, "could not be found"),
        ({"nets": [{"network": bare}]}, 400, "has no subnet"),
        ({"nets": [{"network": only_v6}]}, 400, "has no IPv4 subnet"),
        ({"nets": [{"port": no_ip["id"]}]}, 400, "no IPv4 address"),
        ({"nets": [{"network": public}]}, 403, "external"),
        ({"nets": [{"network": net1}, {"network": net2, "v4-fixed-ip": "10.9.9.9"}]}, 400, ""),
        ({"nets": [{"network": net1}, {"network": net2, "v4-fixed-ip": taken_ip}]}, 409, ""),
        ({"nets": [{"network": net1, "v4-fixed-ip": "10.0.0"}]}, 400, "not an IPv4"),
        ({"nets": [{"network": net1, "v6-fixed-ip": "10.0.0.5"}]}, 400, "not an IPv6"),
        ({"nets": [{"network": net1}, {"network": "net1"}]}, 400, "asked for twice"),
        ({"nets": [{"network": net1, "port": taken["id"]}]}, 400, "either a network or a port"),
        ({"nets": [{}]}, 400, "either a network or a port"),
        ({"nets": [{"network": net1}, {"port": bound["port"]["id"]}]}, 409, "in use"),
        ({"nets": [{"port": their_port["port"]["id"]}]}, 404, "could not be found"),
        ({"nets": [{"port": BAD_PORT}]}, 404, "could not be found"),
        ({"nets": [{"network": net1}], "security_groups": ["nope"]}, 400, "nope"),
        ({"nets": [{"network": net1}], "security_groups": ["twin"]}, 409, "Multiple"),
        ({"nets": [{"port": taken["id"]}], "security_groups": ["default"]}, 400, "makes none"),
        ({"nets": [{"network": net1}], "memory": "1000G"}, 400, "No container host"),
    ):
        assert says in refused(env, body, status), body
    assert env.call("GET", "/v1/containers").json()["containers"] == []
    made = net(env, "GET", "ports", "admin", params={"device_owner": "compute:kuryr"})["ports"]
    assert made == []
    assert net(env, "GET", f"ports/{taken['id']}")["port"]["device_id"] == ""


def test_a_network_quota_is_the_network_services_answer(env: Env, net1: str) -> None:
    project = env.users["demo"].project_id
    net(env, "PUT", f"quotas/{project}", "admin", json={"quota": {"port": 0}})
    assert "quota" in refused(env, {"nets": [{"network": net1}]}, 409).lower()
    assert env.call("GET", "/v1/containers").json()["containers"] == []


def test_the_default_network(env: Env) -> None:
    """No nets: the project's oldest network with a subnet, else the one shared network;
    no network at all when there is none, and a 409 when several shared ones could do."""
    env.image()
    alone = env.run()
    assert alone["addresses"] == {} and alone["security_groups"] == []
    env.wait_status(alone["uuid"], "Running")
    assert env.driver.containers[alone["uuid"]]["spec"]["ports"] == []
    network(env, "bare", None)  # no subnet: never the default
    first = network(env, "first", "10.0.1.0/24")
    network(env, "second", "10.0.2.0/24")
    assert list(env.run()["addresses"]) == [first]
    network(env, "public", "172.24.4.0/24", user="admin", **{"router:external": True})
    assert env.run(user="other")["addresses"] == {}
    shared = network(env, "shared1", "10.5.0.0/24", user="admin", shared=True)
    assert list(env.run(user="other")["addresses"]) == [shared]
    assert list(env.run()["addresses"]) == [first]  # its own network first
    network(env, "shared2", "10.6.0.0/24", user="admin", shared=True)
    assert "several shared networks" in refused(env, {}, 409, user="other")


def test_attach_detach_and_list(env: Env, net1: str) -> None:
    casts = spy_on_agent(env, "network_attach", "network_detach")
    net2 = network(env, "net2", "10.2.0.0/24")
    uuid = env.run(nets=[{"network": net1}])["uuid"]
    env.wait_status(uuid, "Running")

    def act(what: str, status: int = 202, version: str = "1.40", **query: str) -> str:
        response = env.call("POST", f"/v1/containers/{uuid}/{what}", params=query, version=version)
        assert response.status_code == status, response.text
        return response.text

    act("network_attach", network="net2", fixed_ip="10.2.0.7")
    net3 = network(env, "net3", "10.3.0.0/24")
    given = net(env, "POST", "ports", json={"port": {"network_id": net3}})
    act("network_attach", port=given["port"]["id"])
    listed = env.call("GET", f"/v1/containers/{uuid}/network_list").json()["networks"]
    by_net = {n["net_id"]: n for n in listed}
    assert set(by_net) == {net1, net2, net3}
    assert by_net[net2]["fixed_ips"] == [
        {
            "subnet_id": by_net[net2]["fixed_ips"][0]["subnet_id"],
            "version": 4,
            "ip_address": "10.2.0.7",
        }
    ]
    legacy = env.call("GET", f"/v1/containers/{uuid}/network_list", version="1.17").json()
    assert {"net_id": net2, "ip_address": "10.2.0.7"}.items() <= legacy["networks"][1].items()
    shown = env.show(uuid)
    assert set(shown["addresses"]) == {net1, net2, net3}
    assert shown["addresses"][net3][0]["preserve_on_delete"] is True
    attached = [kw["port"] for what, kw in casts if what == "network_attach"]
    assert [p["network_id"] for p in attached] == [net2, net3]
    assert attached[0]["fixed_ips"][0]["ip_address"] == "10.2.0.7"
    [made] = [p for p in ports_of(env, uuid) if p["network_id"] == net2]
    assert made["security_groups"] == [group_id(env, "default")]

    assert "already has a port" in act("network_attach", 409, network=net2)
    act("network_attach", 406, version="1.7", network=net2)
    act("network_attach", 400, network=net2, port=given["port"]["id"])

    act("network_detach", network="net2")
    assert net(env, "GET", "ports", params={"id": made["id"]})["ports"] == []
    assert set(env.show(uuid)["addresses"]) == {net1, net3}
    act("network_detach", port=given["port"]["id"])
    kept = net(env, "GET", f"ports/{given['port']['id']}")["port"]
    assert kept["device_id"] == ""
    assert [kw["port_id"] for what, kw in casts if what == "network_detach"] == [
        made["id"],
        given["port"]["id"],
    ]
    assert "has no port on network" in act("network_detach", 404, network=net2)
    act("network_detach", 400)
    act("pause")
    env.wait_status(uuid, "Paused")
    assert "Paused" in act("network_attach", 409, network=net2)
    actions = env.call("GET", f"/v1/containers/{uuid}/container_actions").json()
    assert {"network_attach", "network_detach"} <= {
        a["action"] for a in actions["containerActions"]
    }


def test_security_groups_change_every_port(env: Env, net1: str) -> None:
    net(env, "POST", "security-groups", json={"security_group": {"name": "web"}})
    web, default = group_id(env, "web"), group_id(env, "default")
    uuid = env.run(nets=[{"network": net1}])["uuid"]
    env.wait_status(uuid, "Running")

    def act(what: str, name: str, status: int = 202) -> str:
        path = f"/v1/containers/{uuid}/{what}"
        response = env.call("POST", path, params={"name": name})
        assert response.status_code == status, response.text
        return response.text

    act("add_security_group", "web")
    [port] = ports_of(env, uuid)
    assert sorted(port["security_groups"]) == sorted([default, web])  # a set, to Neutron
    assert env.show(uuid)["security_groups"] == [default, web]
    assert "already" in act("add_security_group", web, 400)
    act("remove_security_group", "default")
    assert ports_of(env, uuid)[0]["security_groups"] == [web]
    assert env.show(uuid)["security_groups"] == [web]
    assert "not on container" in act("remove_security_group", "default", 400)
    assert "could not be found" in act("add_security_group", "nope", 400)
    bare = env.run(user="other")["uuid"]  # a project without networks: no port
    env.wait_status(bare, "Running", user="other")
    path = f"/v1/containers/{bare}/add_security_group"
    response = env.call("POST", path, "other", params={"name": "default"})
    assert response.status_code == 400 and "no port" in response.text


def test_a_failed_create_frees_its_ports(env: Env, net1: str) -> None:
    env.driver.down = "Docker is not running"
    uuid = env.run(nets=[{"network": net1}])["uuid"]
    failed = env.wait(uuid, lambda c: c["status"] == "Error")
    assert failed["addresses"] == {} and "Docker" in failed["status_reason"]
    assert ports_of(env, uuid) == []
    env.driver.down = None
    assert env.call("DELETE", f"/v1/containers/{uuid}").status_code == 204
    env.gone(uuid)


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("Connection refused", request=request)


def test_ports_are_freed_once_the_network_service_is_back(
    env: Env, net1: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = env.run(nets=[{"network": net1}])["uuid"]
    given = net(env, "POST", "ports", json={"port": {"network_id": net1}})["port"]
    taker = env.run(nets=[{"port": given["id"]}])["uuid"]
    for uuid in (made, taker):
        env.wait_status(uuid, "Running")
    [made_port] = ports_of(env, made)
    service = env.app.state.service.networking.api.service  # the API's way to the network
    with monkeypatch.context() as down:
        down.setattr(service, "http", httpx.Client(transport=httpx.MockTransport(unreachable)))
        for uuid in (made, taker):
            assert env.call("DELETE", f"/v1/containers/{uuid}?stop=True").status_code == 204
            env.gone(uuid)
    assert ports_of(env, made) == [made_port] and ports_of(env, taker) != []
    env.app.state.service.networking.free_unfreed()  # as the API does every minute
    assert ports_of(env, made) == [] and ports_of(env, taker) == []
    kept = net(env, "GET", f"ports/{given['id']}", "admin")["port"]
    assert (kept["device_id"], kept["device_owner"], kept["binding:host_id"]) == ("", "", "")


def test_a_given_port_detached_while_the_network_service_is_down_is_let_go_later(
    env: Env, net1: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container stays, and its uuid stays the port's device id until the port is
    let go: only a port the container holds again is left alone."""
    uuid = env.run(nets=[{"network": net1}])["uuid"]
    env.wait_status(uuid, "Running")
    given, other = (
        net(env, "POST", "ports", json={"port": {"network_id": network(env, name, cidr)}})["port"]
        for name, cidr in (("net2", "10.2.0.0/24"), ("net3", "10.3.0.0/24"))
    )

    def act(what: str, port_id: str) -> None:
        response = env.call("POST", f"/v1/containers/{uuid}/{what}", params={"port": port_id})
        assert response.status_code == 202, response.text

    for port in (given, other):
        act("network_attach", port["id"])
    service = env.app.state.service.networking.api.service
    with monkeypatch.context() as down:
        down.setattr(service, "http", httpx.Client(transport=httpx.MockTransport(unreachable)))
        for port in (given, other):
            act("network_detach", port["id"])
    # Meanwhile the user freed one by hand and gave it to the same container again.
    net(env, "PUT", f"ports/{other['id']}", json={"port": {"device_id": "", "device_owner": ""}})
    act("network_attach", other["id"])
    env.app.state.service.networking.free_unfreed()
    kept = net(env, "GET", f"ports/{given['id']}", "admin")["port"]
    assert (kept["device_id"], kept["device_owner"]) == ("", "")
    retaken = net(env, "GET", f"ports/{other['id']}", "admin")["port"]
    assert (retaken["device_id"], retaken["device_owner"]) == (uuid, "compute:kuryr")


def test_ports_of_containers_never_recorded_are_freed(
    env: Env, net1: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API that stopped between making a container's ports and recording them (a
    create, a network attach to a living container) left ports no container holds:
    deleted once they are old enough not to be in flight. Only the ports the API made: a
    port of the same device owner without its tag (a server's, in an availability zone
    named kuryr) is left alone."""
    living = env.run(nets=[{"network": net1}])["uuid"]
    env.wait_status(living, "Running")
    [kept] = ports_of(env, living)
    assert kept["tags"] == [MADE_TAG]
    capsule = env.call("POST", "/v1/capsules", json={"template": POD})
    assert capsule.status_code == 202, capsule.text
    [pod_port] = ports_of(env, capsule.json()["uuid"])
    owner = {"device_id": str(uuid4()), "device_owner": DEVICE_OWNER}
    made = {"network_id": net1, "tags": [MADE_TAG], **owner}
    made_ids = {net(env, "POST", "ports", json={"port": made})["port"]["id"] for _ in range(3)}
    attaching = {**made, "device_id": living}  # a network attach that was never recorded
    attach_id = net(env, "POST", "ports", json={"port": attaching})["port"]["id"]
    server_port = {"network_id": net1, "device_id": str(uuid4()), "device_owner": DEVICE_OWNER}
    server_port_id = net(env, "POST", "ports", json={"port": server_port})["port"]["id"]
    networking = env.app.state.service.networking
    networking.free_orphans()  # minutes old at most: perhaps a create in flight
    assert {p["id"] for p in ports_of(env, owner["device_id"])} == made_ids
    assert {p["id"] for p in ports_of(env, living)} == {kept["id"], attach_id}
    with monkeypatch.context() as paged:  # one port a page: every page is looked at
        network_conf = env.network.app.state.backend.conf
        paged.setitem(network_conf._overrides, "network", {"pagination_max_limit": 1})
        networking.free_orphans(age=0)
    assert ports_of(env, owner["device_id"]) == []
    assert [p["id"] for p in ports_of(env, server_port["device_id"])] == [server_port_id]
    assert [p["id"] for p in ports_of(env, living)] == [kept["id"]]
    assert [p["id"] for p in ports_of(env, capsule.json()["uuid"])] == [pod_port["id"]]


def test_auto_remove_frees_its_ports(env: Env, net1: str) -> None:
    uuid = env.run(nets=[{"network": net1}], auto_remove=True)["uuid"]
    env.wait_status(uuid, "Running")
    assert len(ports_of(env, uuid)) == 1
    assert env.call("POST", f"/v1/containers/{uuid}/stop").status_code == 202
    env.wait_status(uuid, "Stopped")
    env.agent.reconcile()  # the agent removes an exited auto_remove container
    env.gone(uuid)
    assert ports_of(env, uuid) == []


def test_a_capsule_has_one_port(env: Env, net1: str) -> None:
    response = env.call("POST", "/v1/capsules", json={"template": POD})
    assert response.status_code == 202, response.text
    capsule = response.json()
    [port] = ports_of(env, capsule["uuid"])
    assert capsule["addresses"] == {net1: capsule["addresses"][net1]}
    assert capsule["addresses"][net1][0]["port"] == port["id"]
    members = [c["uuid"] for c in capsule["containers"]]
    for uuid in members:
        assert env.show(uuid)["addresses"] == capsule["addresses"]
        assert [p["port_id"] for p in env.driver.containers[uuid]["spec"]["ports"]] == [port["id"]]
    twice = {**POD, "nets": [{"network": net1}, {"network": net1}]}
    response = env.call("POST", "/v1/capsules", json={"template": twice})
    assert response.status_code == 400 and "one port" in response.text
    assert env.call("DELETE", f"/v1/capsules/{capsule['uuid']}").status_code == 204
    for uuid in members:
        env.gone(uuid)
    deadline = time.monotonic() + 10
    while env.call("GET", f"/v1/capsules/{capsule['uuid']}").status_code != 404:
        assert time.monotonic() < deadline, "the capsule was never deleted"
        time.sleep(0.01)
    assert ports_of(env, capsule["uuid"]) == []
