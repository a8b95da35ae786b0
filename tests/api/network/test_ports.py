"""``/v2.0/ports``: addresses, MACs, security, bindings, status, and who may do what."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from stratus.network.rpc import ServerEndpoint

if TYPE_CHECKING:
    from conftest import Env


@pytest.fixture
def net(env: Env) -> dict[str, Any]:
    """A network of demo's with one /24 subnet (its DHCP port holds 10.0.0.2)."""
    network = env.network()
    network["subnet"] = env.subnet(network["id"])
    return network


def test_create_with_defaults(env: Env, net: dict[str, Any]) -> None:
    port = env.port(net["id"], name="p1")
    assert port["status"] == "DOWN" and port["admin_state_up"] is True
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["fixed_ips"] == [{"subnet_id": net["subnet"]["id"], "ip_address": "10.0.0.3"}]
    assert port["port_security_enabled"] is True and port["allowed_address_pairs"] == []
    groups = env.ok("GET", "security-groups", params={"name": "default"})["security_groups"]
    assert port["security_groups"] == [groups[0]["id"]]
    assert port["binding:vnic_type"] == "normal" and "binding:host_id" not in port
    admin_view = env.ok("GET", f"ports/{port['id']}", "admin")["port"]
    assert admin_view["binding:vif_type"] == "unbound" and admin_view["binding:host_id"] == ""


def test_requested_addresses(env: Env, net: dict[str, Any]) -> None:
    subnet_id = net["subnet"]["id"]
    port = env.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.50"}])
    assert port["fixed_ips"] == [{"subnet_id": subnet_id, "ip_address": "10.0.0.50"}]
    taken = env.error(
        409,
        "POST",
        "ports",
        json={
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.0.0.50"}],
            }
        },
    )
    assert (
        taken["type"] == "IpAddressAlreadyAllocated"
        and "10.0.0.50 already allocated" in taken["message"]
    )
    outside = env.error(
        400,
        "POST",
        "ports",
        json={
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.1.0.5"}],
            }
        },
    )
    assert outside["type"] == "InvalidIpForSubnet"
    nowhere = env.error(
        400,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "192.168.0.5"}]}},
    )
    assert nowhere["type"] == "InvalidIpForNetwork"
    gateway = env.error(
        409,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.1"}]}},
    )
    assert "is the gateway" in gateway["message"]
    foreign = env.subnet(env.network()["id"], "10.5.0.0/24")
    wrong = env.error(
        400,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": foreign["id"]}]}},
    )
    assert "is not a subnet of network" in wrong["message"]


def test_address_returns_to_the_pool(env: Env, net: dict[str, Any]) -> None:
    first = env.port(net["id"])
    env.port(net["id"])
    env.ok("DELETE", f"ports/{first['id']}")
    assert env.port(net["id"])["fixed_ips"][0]["ip_address"] == first["fixed_ips"][0]["ip_address"]


def test_changing_fixed_ips(env: Env, net: dict[str, Any]) -> None:
    port = env.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.10"}])
    path = f"ports/{port['id']}"
    moved = env.ok("PUT", path, json={"port": {"fixed_ips": [{"ip_address": "10.0.0.11"}]}})["port"]
    assert [ip["ip_address"] for ip in moved["fixed_ips"]] == ["10.0.0.11"]
    reused = env.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.10"}])  # freed by the move
    assert reused["fixed_ips"][0]["ip_address"] == "10.0.0.10"
    kept = env.ok("PUT", path, json={"port": {"fixed_ips": [{"subnet_id": net["subnet"]["id"]}]}})[
        "port"
    ]
    assert [ip["ip_address"] for ip in kept["fixed_ips"]] == ["10.0.0.11"]
    assert kept["revision_number"] == 3


def test_shared_networks_and_other_projects(env: Env) -> None:
    shared = env.network("admin", shared=True)
    subnet = env.subnet(shared["id"], user="admin")
    port = env.port(shared["id"], "other")
    assert port["project_id"] == env.project("other")
    error = env.error(
        403,
        "POST",
        "ports",
        "other",
        json={
            "port": {
                "network_id": shared["id"],
                "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.0.0.99"}],
            }
        },
    )
    assert "create_port:fixed_ips:ip_address" in error["message"]
    env.error(
        403,
        "POST",
        "ports",
        "other",
        json={"port": {"network_id": shared["id"], "mac_address": "fa:16:3e:00:00:01"}},
    )
    env.error(404, "GET", f"ports/{port['id']}", "demo")
    assert env.ok("GET", f"ports/{port['id']}", "admin")["port"]["id"] == port["id"]
    private = env.network("admin", **{"router:external": True})
    env.error(403, "POST", "ports", json={"port": {"network_id": private["id"]}})
    mine = env.network()
    env.error(404, "POST", "ports", "other", json={"port": {"network_id": mine["id"]}})
    # The network owner sees (and may delete) ports others made on it.
    theirs = env.port(mine["id"], "admin", project_id=env.project("other"))
    assert env.ok("GET", f"ports/{theirs['id']}")["port"]["project_id"] == env.project("other")


def test_mac_addresses(env: Env, net: dict[str, Any]) -> None:
    port = env.port(net["id"], mac_address="FA:16:3E:01:02:03")
    assert port["mac_address"] == "fa:16:3e:01:02:03"
    used = env.error(
        409,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "mac_address": "fa:16:3e:01:02:03"}},
    )
    assert used["type"] == "MacAddressInUse"
    for bad in ("01:00:5e:00:00:01", "zz:16:3e:01:02:03", "00:00:00:00:00:00"):
        env.error(
            400, "POST", "ports", json={"port": {"network_id": net["id"], "mac_address": bad}}
        )
    env.error(
        403, "PUT", f"ports/{port['id']}", json={"port": {"mac_address": "fa:16:3e:01:02:04"}}
    )
    changed = env.ok(
        "PUT", f"ports/{port['id']}", "admin", json={"port": {"mac_address": "fa:16:3e:01:02:04"}}
    )
    assert changed["port"]["mac_address"] == "fa:16:3e:01:02:04"


def test_binding(env: Env, net: dict[str, Any]) -> None:
    endpoint = ServerEndpoint(env.backend)
    endpoint.report_state(
        {
            "agent_type": "Linux bridge agent",
            "binary": "stratus-l2-agent",
            "host": "compute1",
            "topic": "network.l2_agent",
            "configurations": {"tunnel_types": ["vxlan"], "tunneling_ip": "192.0.2.1"},
        }
    )
    error = env.error(
        403,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "binding:host_id": "compute1"}},
    )
    assert "create_port:binding" in error["message"]
    port = env.port(
        net["id"], "admin", project_id=env.project("demo"), **{"binding:host_id": "compute1"}
    )
    assert port["binding:vif_type"] == "bridge"
    assert port["binding:vif_details"] == {
        "connectivity": "l2",
        "port_filter": True,
        "bridge_name": "brq" + net["id"][:11],
    }
    assert endpoint.update_ports_status(agent_host="compute1", up=[port["id"]], down=[]) == [
        port["id"]
    ]
    assert env.ok("GET", f"ports/{port['id']}")["port"]["status"] == "ACTIVE"
    moved = env.ok(
        "PUT", f"ports/{port['id']}", "admin", json={"port": {"binding:host_id": "compute2"}}
    )["port"]
    assert moved["binding:vif_type"] == "binding_failed" and moved["status"] == "DOWN"
    bound_mac = env.ok(
        "PUT", f"ports/{port['id']}", "admin", json={"port": {"binding:host_id": "compute1"}}
    )
    assert bound_mac["port"]["binding:vif_type"] == "bridge"
    error = env.error(
        409,
        "PUT",
        f"ports/{port['id']}",
        "admin",
        json={"port": {"mac_address": "fa:16:3e:00:00:09"}},
    )
    assert error["type"] == "PortBound"


def test_a_binding_change_wakes_only_the_l2_agents(
    env: Env, net: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Port plugging binds every instance's port: DHCP agents serve nothing of that."""
    hints: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(
        env.backend.notifier,
        "networks_changed",
        lambda ids, dhcp=True: hints.append((list(ids), dhcp)),
    )
    port = env.port(net["id"])
    binding = {"binding:host_id": "h1"}
    env.ok("PUT", f"ports/{port['id']}", "admin", json={"port": binding})
    env.ok("PUT", f"ports/{port['id']}", json={"port": {"name": "renamed"}})
    assert hints == [([net["id"]], True), ([net["id"]], False), ([net["id"]], True)]


def test_port_security(env: Env, net: dict[str, Any]) -> None:
    group = env.create("security_group", name="web")
    open_port = env.port(net["id"], port_security_enabled=False)
    assert open_port["security_groups"] == []
    conflict = env.error(
        409,
        "POST",
        "ports",
        json={
            "port": {
                "network_id": net["id"],
                "port_security_enabled": False,
                "security_groups": [group["id"]],
            }
        },
    )
    assert "Port security must be enabled" in conflict["message"]
    port = env.port(
        net["id"],
        security_groups=[group["id"]],
        allowed_address_pairs=[{"ip_address": "10.0.0.0/28"}],
    )
    assert port["security_groups"] == [group["id"]]
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.0/28", "mac_address": port["mac_address"]}
    ]
    path = f"ports/{port['id']}"
    still = env.error(409, "PUT", path, json={"port": {"port_security_enabled": False}})
    assert "Cannot disable port security" in still["message"]
    pairs = env.error(
        409, "PUT", path, json={"port": {"port_security_enabled": False, "security_groups": []}}
    )
    assert pairs["type"] == "AddressPairAndPortSecurityRequired"
    cleared = env.ok(
        "PUT",
        path,
        json={
            "port": {
                "port_security_enabled": False,
                "security_groups": [],
                "allowed_address_pairs": [],
            }
        },
    )
    assert cleared["port"]["port_security_enabled"] is False
    unknown = env.error(
        404, "POST", "ports", json={"port": {"network_id": net["id"], "security_groups": ["nope"]}}
    )
    assert unknown["type"] == "SecurityGroupNotFound"
    theirs = env.create("security_group", "other", name="theirs")
    env.error(
        404,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "security_groups": [theirs["id"]]}},
    )
    many = [{"ip_address": f"10.0.1.{i}"} for i in range(11)]
    too_many = env.error(
        400,
        "POST",
        "ports",
        json={"port": {"network_id": net["id"], "allowed_address_pairs": many}},
    )
    assert too_many["type"] == "AllowedAddressPairExhausted"


def test_router_ports_are_deleted_through_the_router(env: Env, net: dict[str, Any]) -> None:
    router = env.create("router", name="r")
    added = env.ok(
        "PUT",
        f"routers/{router['id']}/add_router_interface",
        json={"subnet_id": net["subnet"]["id"]},
    )
    error = env.error(409, "DELETE", f"ports/{added['port_id']}")
    assert error["type"] == "L3PortInUse" and "network:router_interface" in error["message"]


def test_list_filters_and_tags_on_create(env: Env, net: dict[str, Any]) -> None:
    group = env.create("security_group", name="web")
    tagged = env.port(net["id"], name="a", tags=["blue", "green"], security_groups=[group["id"]])
    assert tagged["tags"] == ["blue", "green"]
    env.port(net["id"], name="b", device_owner="compute:nova", device_id="vm1")

    def names(**params: object) -> list[str]:
        return sorted(x["name"] for x in env.ok("GET", "ports", params=params)["ports"])

    assert names(device_owner="compute:nova") == ["b"]
    assert names(device_id="vm1") == ["b"]
    assert names(fixed_ips="ip_address=10.0.0.3") == ["a"]
    assert names(fixed_ips=f"subnet_id={net['subnet']['id']}") == ["", "a", "b"]
    assert names(security_groups=group["id"]) == ["a"]
    assert names(tags="blue") == ["a"] and names(**{"not-tags": "blue"}) == ["", "b"]
    env.error(400, "GET", "ports", params={"fixed_ips": "mac=1"})


def test_update_and_delete(env: Env, net: dict[str, Any]) -> None:
    port = env.port(net["id"])
    path = f"ports/{port['id']}"
    updated = env.ok(
        "PUT", path, json={"port": {"name": "n", "admin_state_up": False, "device_id": "d"}}
    )["port"]
    assert (updated["name"], updated["admin_state_up"], updated["device_id"]) == ("n", False, "d")
    env.error(403, "PUT", path, "reader", json={"port": {"name": "x"}})
    env.error(404, "PUT", path, "other", json={"port": {"name": "x"}})
    env.error(403, "DELETE", path, "reader")
    env.ok("DELETE", path)
    env.error(404, "GET", path)
