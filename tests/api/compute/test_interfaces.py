"""os-interface on the fake driver with the real network service (in-process): a port made
on a network or a given port plugged into a running or stopped server, listed, shown,
unplugged (a made port deleted, a given one let go), and bad requests refused before
anything is made."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.conftest import Env
from tests.api.compute.test_networking import net, network

UNKNOWN = "1b5ecb39-0000-4000-8000-000000000000"


@pytest.fixture
def private(netenv: Env) -> str:
    return network(netenv, "private", "10.1.0.0/24")


def attach(env: Env, server_id: str, status: int = 200, **item: Any) -> Any:
    version = item.pop("version", "2.79")
    body = {"interfaceAttachment": item}
    response = env.call("POST", f"/servers/{server_id}/os-interface", json=body, version=version)
    assert response.status_code == status, response.text
    return response.json()


def interfaces(env: Env, server_id: str) -> list[dict[str, Any]]:
    return env.ok("GET", f"/servers/{server_id}/os-interface")["interfaceAttachments"]


def domain_ports(env: Env, server: dict[str, Any]) -> list[str]:
    host = env.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"]
    return env.driver._domains[host][server["id"]].interfaces


def test_a_port_made_on_a_network_comes_and_goes(netenv: Env, private: str) -> None:
    server = netenv.boot(name="hot")
    attached = attach(netenv, server["id"], net_id=private)["interfaceAttachment"]
    port_id = attached["port_id"]
    assert attached["net_id"] == private and attached["mac_addr"]
    assert attached["fixed_ips"][0]["ip_address"].startswith("10.1.0.")
    assert attached["fixed_ips"][0]["subnet_id"] and "port_state" in attached
    assert attached["tag"] is None
    port = net(netenv, "GET", f"ports/{port_id}", "admin")["port"]
    host = netenv.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"]
    assert port["device_id"] == server["id"] and port["binding:host_id"] == host
    assert port["device_owner"] == "compute:nova"
    assert domain_ports(netenv, server) == [port_id]
    addresses = netenv.show(server["id"])["addresses"]
    assert [a["addr"] for a in addresses["private"]] == [attached["fixed_ips"][0]["ip_address"]]
    assert [i["port_id"] for i in interfaces(netenv, server["id"])] == [port_id]
    shown = netenv.ok("GET", f"/servers/{server['id']}/os-interface/{port_id}")
    assert shown["interfaceAttachment"]["mac_addr"] == attached["mac_addr"]
    by_server = net(netenv, "GET", "ports", params={"device_id": server["id"]})["ports"]
    assert [p["id"] for p in by_server] == [port_id]  # what `port list --server` shows
    actions = netenv.ok("GET", f"/servers/{server['id']}/os-instance-actions")
    assert "attach_interface" in [a["action"] for a in actions["instanceActions"]]

    response = netenv.call("DELETE", f"/servers/{server['id']}/os-interface/{port_id}")
    assert response.status_code == 202, response.text
    assert (
        netenv.cloud.network.get(
            f"/v2.0/ports/{port_id}", headers={"X-Auth-Token": netenv.users["admin"].token}
        ).status_code
        == 404
    )
    assert netenv.show(server["id"])["addresses"] == {}
    assert interfaces(netenv, server["id"]) == [] and domain_ports(netenv, server) == []
    gone = netenv.call("GET", f"/servers/{server['id']}/os-interface/{port_id}")
    assert gone.status_code == 404
    again = netenv.call("DELETE", f"/servers/{server['id']}/os-interface/{port_id}")
    assert again.status_code == 404


def test_a_given_port_is_let_go_and_kept(netenv: Env, private: str) -> None:
    server = netenv.boot(networks=[{"uuid": private}])
    port = net(netenv, "POST", "ports", json={"port": {"network_id": private}})["port"]
    attach(netenv, server["id"], port_id=port["id"])
    assert len(netenv.show(server["id"])["addresses"]["private"]) == 2
    assert net(netenv, "GET", f"ports/{port['id']}")["port"]["device_id"] == server["id"]
    assert sorted(domain_ports(netenv, server)) == sorted(
        i["port_id"] for i in interfaces(netenv, server["id"])
    )
    detached = netenv.call("DELETE", f"/servers/{server['id']}/os-interface/{port['id']}")
    assert detached.status_code == 202, detached.text
    kept = net(netenv, "GET", f"ports/{port['id']}", "admin")["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""
    assert len(netenv.show(server["id"])["addresses"]["private"]) == 1


def test_a_stopped_server_takes_a_fixed_ip_and_its_delete_deletes_the_port(
    netenv: Env, private: str
) -> None:
    server = netenv.boot()
    assert netenv.action(server["id"], {"os-stop": None}).status_code == 202
    netenv.wait(server["id"], "SHUTOFF")
    item = {"net_id": private, "fixed_ips": [{"ip_address": "10.1.0.50"}], "tag": "data"}
    attached = attach(netenv, server["id"], **item)["interfaceAttachment"]
    assert attached["fixed_ips"][0]["ip_address"] == "10.1.0.50" and attached["tag"] == "data"
    taken = {"net_id": private, "fixed_ips": [{"ip_address": "10.1.0.50"}], "version": "2.69"}
    old = attach(netenv, server["id"], 409, **taken)
    assert "10.1.0.50" in old["conflictingRequest"]["message"]
    listed = netenv.ok("GET", f"/servers/{server['id']}/os-interface", version="2.69")
    assert "tag" not in listed["interfaceAttachments"][0]
    assert netenv.call("DELETE", f"/servers/{server['id']}").status_code == 204
    netenv.wait_gone(server["id"])
    assert net(netenv, "GET", "ports", "admin", params={"device_id": server["id"]})["ports"] == []


def test_bad_requests_make_nothing(netenv: Env, private: str) -> None:
    server = netenv.boot()
    other = netenv.boot(networks=[{"uuid": private}])
    in_use = net(netenv, "GET", "ports", params={"device_id": other["id"]})["ports"][0]["id"]
    theirs = network(netenv, "theirs", "10.3.0.0/24", user="other")
    network(netenv, "second", "10.2.0.0/24")
    before = len(net(netenv, "GET", "ports", "admin")["ports"])
    for item, status in (
        ({"net_id": private, "port_id": in_use}, 400),
        ({"fixed_ips": [{"ip_address": "10.1.0.9"}]}, 400),
        ({"net_id": "not-a-uuid"}, 400),
        ({"net_id": private, "fixed_ips": [{"ip_address": "10.1.0.300"}]}, 400),
        ({"net_id": private, "fixed_ips": []}, 400),
        ({"net_id": private, "mac": "fa:16:3e:00:00:01"}, 400),
        ({"net_id": private, "tag": "early", "version": "2.48"}, 400),
        ({"net_id": UNKNOWN}, 400),
        ({"net_id": theirs}, 400),
        ({"port_id": UNKNOWN}, 400),
        ({"port_id": in_use}, 409),
    ):
        attach(netenv, server["id"], status, **item)
    auto = attach(netenv, server["id"], 409)  # two usable networks: which one?
    assert "Multiple possible networks" in auto["conflictingRequest"]["message"]
    theirs_server = netenv.call(
        "POST",
        f"/servers/{server['id']}/os-interface",
        "other",
        json={"interfaceAttachment": {"net_id": private}},
    )
    assert theirs_server.status_code == 404
    assert len(net(netenv, "GET", "ports", "admin")["ports"]) == before
    assert domain_ports(netenv, server) == []


def test_states_and_locks(netenv: Env, private: str) -> None:
    server = netenv.boot()
    assert netenv.action(server["id"], {"lock": None}).status_code == 202
    locked = attach(netenv, server["id"], 409, net_id=private)
    assert "locked" in locked["conflictingRequest"]["message"]
    admin = netenv.call(
        "POST",
        f"/servers/{server['id']}/os-interface",
        "admin",
        json={"interfaceAttachment": {"net_id": private}},
    )
    assert admin.status_code == 200, admin.text  # administrators override locks
    assert netenv.action(server["id"], {"unlock": None}).status_code == 202
    assert netenv.action(server["id"], {"pause": None}).status_code == 202
    netenv.wait(server["id"], "PAUSED")
    attach(netenv, server["id"], net_id=private)  # found by the guest when it runs again
    assert len(domain_ports(netenv, server)) == 2
    port_id = admin.json()["interfaceAttachment"]["port_id"]
    detach = netenv.call("DELETE", f"/servers/{server['id']}/os-interface/{port_id}")
    assert detach.status_code == 409
    assert "vm_state paused" in detach.json()["conflictingRequest"]["message"]
    assert len(domain_ports(netenv, server)) == 2


@pytest.mark.parametrize("action", ["reboot", "rebuild"])
def test_a_domain_made_anew_has_the_ports_attached_since_the_action_was_asked(
    netenv: Env, private: str, action: str
) -> None:
    """An attach takes no task state: a hard reboot or a rebuild asked for while one ran
    carries a copy of the server without its new port, and must not drop it."""
    server = netenv.boot()
    host = netenv.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"]
    [asked] = [
        i
        for i in netenv.agent._conductor("instances_on_host", agent_host=host)
        if i["uuid"] == server["id"]
    ]
    port_id = attach(netenv, server["id"], net_id=private)["interfaceAttachment"]["port_id"]
    if action == "reboot":
        netenv.agent.reboot_instance(asked, "HARD")
    else:
        netenv.agent.rebuild_instance(asked)
    assert domain_ports(netenv, server) == [port_id]


def test_a_failed_attach_leaves_nothing(netenv: Env, private: str) -> None:
    server = netenv.boot()
    netenv.driver.fail_attach_on = set(netenv.driver.hosts())
    failed = attach(netenv, server["id"], 409, net_id=private)
    assert "simulated failure" in failed["conflictingRequest"]["message"]
    assert net(netenv, "GET", "ports", "admin", params={"device_id": server["id"]})["ports"] == []
    port = net(netenv, "POST", "ports", json={"port": {"network_id": private}})["port"]
    attach(netenv, server["id"], 409, port_id=port["id"])
    kept = net(netenv, "GET", f"ports/{port['id']}", "admin")["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""
    assert netenv.show(server["id"])["addresses"] == {}
    assert netenv.show(server["id"])["status"] == "ACTIVE"


def test_without_a_network_service(env: Env) -> None:
    server = env.boot()
    assert interfaces(env, server["id"]) == []
    refused = attach(env, server["id"], 400, net_id=UNKNOWN)
    assert "no network service" in refused["badRequest"]["message"]
