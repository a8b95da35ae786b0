"""Servers on networks of the real network service (Neutron API, in-process): the agent
creates and binds ports with the service token, the API checks what callers ask for with
theirs, and deleting a server deletes the ports it made and lets go of the ones given."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.compute.models import Instance
from tests.api.compute.conftest import Env


def net(env: Env, method: str, path: str, user: str = "demo", **kwargs: Any) -> Any:
    headers = {"X-Auth-Token": env.users[user].token}
    response = env.cloud.network.request(method, f"/v2.0/{path}", headers=headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def network(env: Env, name: str, cidr: str, user: str = "demo", **extra: Any) -> str:
    network_id = net(env, "POST", "networks", user, json={"network": {"name": name, **extra}})
    network_id = network_id["network"]["id"]
    subnet = {"network_id": network_id, "cidr": cidr, "ip_version": 4}
    net(env, "POST", "subnets", user, json={"subnet": subnet})
    return network_id


def boot_body(env: Env, **server: Any) -> dict[str, Any]:
    return {"server": {"name": "vm", "imageRef": env.images["cirros"], "flavorRef": "1", **server}}


@pytest.fixture
def private(netenv: Env) -> str:
    return network(netenv, "private", "10.1.0.0/24")


def test_server_on_a_network(netenv: Env, private: str) -> None:
    server = netenv.boot(networks=[{"uuid": private}])
    addresses = server["addresses"]["private"]
    assert len(addresses) == 1 and addresses[0]["addr"].startswith("10.1.0.")
    assert addresses[0]["OS-EXT-IPS:type"] == "fixed" and addresses[0]["version"] == 4
    ports = net(netenv, "GET", "ports", "admin", params={"device_id": server["id"]})["ports"]
    assert len(ports) == 1  # binding attributes are for administrators
    port = ports[0]
    host = netenv.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"]
    assert port["device_owner"] == "compute:nova" and port["binding:host_id"] == host
    default = net(netenv, "GET", "security-groups", params={"name": "default"})["security_groups"]
    assert port["security_groups"] == [default[0]["id"]]
    listed = netenv.ok("GET", "/servers", params={"ip": r"10\.1\.0\."})["servers"]
    assert [s["id"] for s in listed] == [server["id"]]
    assert netenv.ok("GET", "/servers", params={"ip": "10.9."})["servers"] == []
    assert netenv.call("DELETE", f"/servers/{server['id']}").status_code == 204
    netenv.wait_gone(server["id"])
    assert net(netenv, "GET", "ports", params={"device_id": server["id"]})["ports"] == []


def test_the_agent_reads_no_network_the_api_has_read(
    netenv: Env, private: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API records each network's name and MTU with the request, so the agent makes
    the port without reading the network again (one request fewer on every boot)."""
    client = netenv.agent.networking.client
    tokens: list[str | None] = []
    show = client.show_network

    def counted(network_id: str, token: str | None) -> dict[str, Any] | None:
        tokens.append(token)
        return show(network_id, token)

    monkeypatch.setattr(client, "show_network", counted)
    server = netenv.boot(networks=[{"uuid": private}])
    assert list(server["addresses"]) == ["private"]
    assert tokens and None not in tokens  # read by the API only, with the caller's token
    with netenv.backend.db.session() as session:
        (vif,) = session.get(Instance, server["id"]).network_info
    mtu = net(netenv, "GET", f"networks/{private}")["network"]["mtu"]
    assert (vif["network_label"], vif["mtu"]) == ("private", mtu) and mtu


def test_server_on_a_given_port_lets_it_go(netenv: Env, private: str) -> None:
    port = net(netenv, "POST", "ports", json={"port": {"network_id": private}})["port"]
    server = netenv.boot(networks=[{"port": port["id"]}])
    ip = port["fixed_ips"][0]["ip_address"]
    assert server["addresses"]["private"][0]["addr"] == ip
    bound = net(netenv, "GET", f"ports/{port['id']}")["port"]
    assert bound["device_id"] == server["id"]
    again = boot_body(netenv, networks=[{"port": port["id"]}])
    in_use = netenv.call("POST", "/servers", json=again, version="2.79")
    assert in_use.status_code == 409
    assert netenv.call("DELETE", f"/servers/{server['id']}").status_code == 204
    netenv.wait_gone(server["id"])
    kept = net(netenv, "GET", f"ports/{port['id']}", "admin")["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""


def test_auto_picks_the_only_network_and_refuses_to_guess(netenv: Env, private: str) -> None:
    server = netenv.boot(networks="auto")
    assert list(server["addresses"]) == ["private"]
    network(netenv, "second", "10.2.0.0/24")
    response = netenv.call(
        "POST", "/servers", json=boot_body(netenv, networks="auto"), version="2.79"
    )
    assert response.status_code == 409 and "Multiple possible networks" in response.text
    unnamed = netenv.call("POST", "/servers", json=boot_body(netenv), version="2.1")
    assert unnamed.status_code == 202  # before 2.37: every usable network
    every = netenv.wait(unnamed.json()["server"]["id"], "ACTIVE")
    assert sorted(every["addresses"]) == ["private", "second"]


def test_security_groups(netenv: Env, private: str) -> None:
    group = net(netenv, "POST", "security-groups", json={"security_group": {"name": "web"}})
    server = netenv.boot(networks=[{"uuid": private}], security_groups=[{"name": "web"}])
    assert server["security_groups"] == [{"name": "web"}]
    port = net(netenv, "GET", "ports", params={"device_id": server["id"]})["ports"][0]
    assert port["security_groups"] == [group["security_group"]["id"]]
    bad = boot_body(netenv, networks=[{"uuid": private}], security_groups=[{"name": "nope"}])
    response = netenv.call("POST", "/servers", json=bad, version="2.79")
    assert response.status_code == 400 and "nope" in response.text


def test_the_default_group_is_left_to_the_network_service(netenv: Env) -> None:
    """As Nova leaves ``default`` out: a network without port security gives the port no
    group (naming the default group there would be refused)."""
    open_network = network(netenv, "open", "10.4.0.0/24", port_security_enabled=False)
    server = netenv.boot(networks=[{"uuid": open_network}])
    assert server["status"] == "ACTIVE" and server["security_groups"] == [{"name": "default"}]
    port = net(netenv, "GET", "ports", params={"device_id": server["id"]})["ports"][0]
    assert port["port_security_enabled"] is False and port["security_groups"] == []


def test_only_administrators_plug_servers_into_an_external_network(
    netenv: Env, private: str
) -> None:
    public = network(netenv, "ext", "203.0.113.0/24", user="admin", **{"router:external": True})
    refused = netenv.call(
        "POST", "/servers", json=boot_body(netenv, networks=[{"uuid": public}]), version="2.79"
    )
    assert refused.status_code == 403, refused.text
    assert f"external network {public}" in refused.json()["forbidden"]["message"]
    server = netenv.boot(networks=[{"uuid": private}])
    attach = {"interfaceAttachment": {"net_id": public}}
    path = f"/servers/{server['id']}/os-interface"
    assert netenv.call("POST", path, json=attach).status_code == 403
    owned = {"network_id": public, "device_owner": "compute:nova"}
    assert net(netenv, "GET", "ports", "admin", params=owned)["ports"] == []
    admins = netenv.boot("admin", networks=[{"uuid": public}])
    assert list(admins["addresses"]) == ["ext"]


def test_bad_network_requests(netenv: Env, private: str) -> None:
    theirs = network(netenv, "theirs", "10.3.0.0/24", user="other")
    bare = net(netenv, "POST", "networks", json={"network": {"name": "bare"}})["network"]["id"]
    for networks, status in (
        ([{"uuid": bare}], 400),
        ([{"uuid": "1b5ecb39-0000-4000-8000-000000000000"}], 400),
        ([{"uuid": theirs}], 400),
        ([{"port": "1b5ecb39-0000-4000-8000-000000000000"}], 400),
        ([{"uuid": private, "fixed_ip": "not-an-ip"}], 400),
        ([{}], 400),
    ):
        response = netenv.call(
            "POST", "/servers", json=boot_body(netenv, networks=networks), version="2.79"
        )
        assert response.status_code == status, (networks, response.text)
    assert netenv.ok("GET", "/servers")["servers"] == []


def test_port_failure_puts_the_server_in_error(netenv: Env, private: str) -> None:
    server = netenv.boot(networks=[{"uuid": private, "fixed_ip": "192.168.99.9"}], wait="ERROR")
    assert "Cannot create a port" in server["fault"]["message"]
    assert net(netenv, "GET", "ports", params={"device_id": server["id"]})["ports"] == []
    stats = netenv.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert stats["memory_mb_used"] == 0
