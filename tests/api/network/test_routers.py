"""``/v2.0/routers`` and ``/v2.0/floatingips``: gateways, interfaces, routes, and
floating IPs that need a route to their external network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Env


@pytest.fixture
def public(env: Env) -> dict[str, Any]:
    network = env.network(
        "admin",
        name="public",
        **{
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        },
    )
    network["subnet"] = env.subnet(network["id"], "203.0.113.0/24", "admin", enable_dhcp=False)
    return network


@pytest.fixture
def internal(env: Env) -> dict[str, Any]:
    network = env.network(name="internal")
    network["subnet"] = env.subnet(network["id"])
    return network


def add(env: Env, router: dict[str, Any], user: str = "demo", **body: str) -> dict[str, Any]:
    return env.ok("PUT", f"routers/{router['id']}/add_router_interface", user, json=body)


def test_router_with_gateway_and_interface(
    env: Env, public: dict[str, Any], internal: dict[str, Any]
) -> None:
    router = env.create("router", name="r1", external_gateway_info={"network_id": public["id"]})
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == public["id"] and gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"][0]["ip_address"] == "203.0.113.2"
    assert router["revision_number"] == 1 and router["status"] == "ACTIVE"
    result = add(env, router, subnet_id=internal["subnet"]["id"])
    assert (
        result["subnet_id"] == internal["subnet"]["id"] and result["network_id"] == internal["id"]
    )
    port = env.ok("GET", f"ports/{result['port_id']}")["port"]
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == router["id"]
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.1" and port["security_groups"] == []
    again = env.error(
        400,
        "PUT",
        f"routers/{router['id']}/add_router_interface",
        json={"subnet_id": internal["subnet"]["id"]},
    )
    assert "already has a port on subnet" in again["message"]
    overlapping = env.subnet(env.network()["id"], "10.0.0.0/16")
    clash = env.error(
        400,
        "PUT",
        f"routers/{router['id']}/add_router_interface",
        json={"subnet_id": overlapping["id"]},
    )
    assert "overlaps" in clash["message"]
    in_use = env.error(409, "DELETE", f"routers/{router['id']}")
    assert in_use["type"] == "RouterInUse" and "still has ports" in in_use["message"]
    env.ok(
        "PUT",
        f"routers/{router['id']}/remove_router_interface",
        json={"subnet_id": internal["subnet"]["id"]},
    )
    env.error(404, "GET", f"ports/{result['port_id']}")
    env.ok("DELETE", f"routers/{router['id']}")
    gateway_ports = env.ok(
        "GET", "ports", "admin", params={"device_owner": "network:router_gateway"}
    )
    assert gateway_ports["ports"] == []


def test_gateway_rules(env: Env, public: dict[str, Any], internal: dict[str, Any]) -> None:
    not_external = env.error(
        400,
        "POST",
        "routers",
        json={"router": {"external_gateway_info": {"network_id": internal["id"]}}},
    )
    assert "is not an external network" in not_external["message"]
    snat = env.error(
        403,
        "POST",
        "routers",
        json={
            "router": {"external_gateway_info": {"network_id": public["id"], "enable_snat": False}}
        },
    )
    assert "enable_snat" in snat["message"]
    router = env.create(
        "router", "admin", external_gateway_info={"network_id": public["id"], "enable_snat": False}
    )
    assert router["external_gateway_info"]["enable_snat"] is False
    mine = env.create("router", name="r")
    path = f"routers/{mine['id']}"
    set_gw = env.ok(
        "PUT", path, json={"router": {"external_gateway_info": {"network_id": public["id"]}}}
    )
    assert set_gw["router"]["external_gateway_info"]["network_id"] == public["id"]
    cleared = env.ok("PUT", path, json={"router": {"external_gateway_info": {}}})
    assert cleared["router"]["external_gateway_info"] is None
    fixed = env.ok(
        "PUT",
        path,
        "admin",
        json={
            "router": {
                "external_gateway_info": {
                    "network_id": public["id"],
                    "external_fixed_ips": [{"ip_address": "203.0.113.100"}],
                }
            }
        },
    )
    assert (
        fixed["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        == "203.0.113.100"
    )


def test_interfaces_by_port(env: Env, internal: dict[str, Any]) -> None:
    router = env.create("router", name="r")
    port = env.port(internal["id"], fixed_ips=[{"ip_address": "10.0.0.254"}])
    result = add(env, router, port_id=port["id"])
    assert result["port_id"] == port["id"] and result["subnet_ids"] == [internal["subnet"]["id"]]
    other = env.create("router", name="r2")
    taken = env.error(
        409, "PUT", f"routers/{other['id']}/add_router_interface", json={"port_id": port["id"]}
    )
    assert taken["type"] == "PortInUse"
    both = env.error(
        400,
        "PUT",
        f"routers/{other['id']}/add_router_interface",
        json={"port_id": port["id"], "subnet_id": internal["subnet"]["id"]},
    )
    assert "either a subnet_id or a port_id" in both["message"]
    env.error(400, "PUT", f"routers/{other['id']}/add_router_interface", json={})
    missing = env.error(
        404, "PUT", f"routers/{other['id']}/remove_router_interface", json={"port_id": port["id"]}
    )
    assert missing["type"] == "RouterInterfaceNotFound"
    env.ok("PUT", f"routers/{router['id']}/remove_router_interface", json={"port_id": port["id"]})
    no_gateway = env.subnet(env.network()["id"], "10.7.0.0/24", gateway_ip=None)
    error = env.error(
        400,
        "PUT",
        f"routers/{router['id']}/add_router_interface",
        json={"subnet_id": no_gateway["id"]},
    )
    assert "has no gateway IP" in error["message"]


def test_static_routes(env: Env, internal: dict[str, Any]) -> None:
    router = env.create("router", name="r")
    add(env, router, subnet_id=internal["subnet"]["id"])
    path = f"routers/{router['id']}"
    routes = [{"destination": "172.16.0.0/12", "nexthop": "10.0.0.50"}]
    assert env.ok("PUT", path, json={"router": {"routes": routes}})["router"]["routes"] == routes
    unreachable = env.error(
        400,
        "PUT",
        path,
        json={"router": {"routes": [{"destination": "0.0.0.0/0", "nexthop": "192.168.1.1"}]}},
    )
    assert "the nexthop is not connected with router" in unreachable["message"]
    own = env.error(
        400,
        "PUT",
        path,
        json={"router": {"routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}]}},
    )
    assert own["type"] == "InvalidRoutes"
    needed = env.error(
        409, "PUT", f"{path}/remove_router_interface", json={"subnet_id": internal["subnet"]["id"]}
    )
    assert needed["type"] == "RouterInterfaceInUseByRoute"
    more = [{"destination": "192.168.0.0/16", "nexthop": "10.0.0.60"}]
    added = env.ok("PUT", f"{path}/add_extraroutes", json={"router": {"routes": more}})
    assert added["router"]["routes"] == routes + more
    removed = env.ok("PUT", f"{path}/remove_extraroutes", json={"router": {"routes": routes}})
    assert removed["router"]["routes"] == more


def test_router_visibility(env: Env) -> None:
    router = env.create("router", name="r")
    env.error(404, "GET", f"routers/{router['id']}", "other")
    env.error(
        404, "PUT", f"routers/{router['id']}/add_router_interface", "other", json={"subnet_id": "x"}
    )
    assert env.ok("GET", "routers", "other")["routers"] == []
    env.error(403, "PUT", f"routers/{router['id']}", "reader", json={"router": {"name": "x"}})


def test_floating_ips(env: Env, public: dict[str, Any], internal: dict[str, Any]) -> None:
    vm = env.port(internal["id"])
    floating = env.create("floatingip", floating_network_id=public["id"])
    assert floating["floating_ip_address"].startswith("203.0.113.")
    assert floating["port_id"] is None and floating["status"] == "DOWN"
    path = f"floatingips/{floating['id']}"
    unreachable = env.error(404, "PUT", path, json={"floatingip": {"port_id": vm["id"]}})
    assert unreachable["type"] == "ExternalGatewayForFloatingIPNotFound"
    assert f"is not reachable from subnet {internal['subnet']['id']}" in unreachable["message"]
    router = env.create("router", name="r", external_gateway_info={"network_id": public["id"]})
    add(env, router, subnet_id=internal["subnet"]["id"])
    associated = env.ok("PUT", path, json={"floatingip": {"port_id": vm["id"]}})["floatingip"]
    assert associated["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert associated["router_id"] == router["id"]
    assert associated["port_details"]["mac_address"] == vm["mac_address"]
    second = env.create("floatingip", floating_network_id=public["id"])
    twice = env.error(
        409, "PUT", f"floatingips/{second['id']}", json={"floatingip": {"port_id": vm["id"]}}
    )
    assert twice["type"] == "FloatingIPPortAlreadyAssociated"
    interface = env.error(
        409,
        "PUT",
        f"routers/{router['id']}/remove_router_interface",
        json={"subnet_id": internal["subnet"]["id"]},
    )
    assert interface["type"] == "RouterInterfaceInUseByFloatingIP"
    gateway = env.error(
        409, "PUT", f"routers/{router['id']}", json={"router": {"external_gateway_info": {}}}
    )
    assert gateway["type"] == "RouterExternalGatewayInUseByFloatingIp"
    cleared = env.ok("PUT", path, json={"floatingip": {"port_id": None}})["floatingip"]
    assert cleared["port_id"] is None and cleared["router_id"] is None
    env.ok("PUT", path, json={"floatingip": {"port_id": vm["id"]}})
    env.ok("DELETE", f"ports/{vm['id']}")  # disassociates
    assert env.ok("GET", path)["floatingip"]["port_id"] is None
    env.ok("DELETE", path)
    env.error(404, "GET", path)


def test_floating_ip_errors(env: Env, public: dict[str, Any], internal: dict[str, Any]) -> None:
    not_external = env.error(
        400, "POST", "floatingips", json={"floatingip": {"floating_network_id": internal["id"]}}
    )
    assert "not a valid external network" in not_external["message"]
    env.error(404, "POST", "floatingips", json={"floatingip": {"floating_network_id": "nope"}})
    specific = env.error(
        403,
        "POST",
        "floatingips",
        json={
            "floatingip": {
                "floating_network_id": public["id"],
                "floating_ip_address": "203.0.113.77",
            }
        },
    )
    assert "floating_ip_address" in specific["message"]
    chosen = env.create(
        "floatingip", "admin", floating_network_id=public["id"], floating_ip_address="203.0.113.77"
    )
    assert chosen["floating_ip_address"] == "203.0.113.77"
    taken = env.error(
        409,
        "POST",
        "floatingips",
        "admin",
        json={
            "floatingip": {
                "floating_network_id": public["id"],
                "floating_ip_address": "203.0.113.77",
            }
        },
    )
    assert taken["type"] == "IpAddressAlreadyAllocated"
    theirs = env.port(env.network("other")["id"], "other")
    floating = env.create("floatingip", floating_network_id=public["id"])
    env.error(
        404, "PUT", f"floatingips/{floating['id']}", json={"floatingip": {"port_id": theirs["id"]}}
    )
    env.error(404, "GET", f"floatingips/{floating['id']}", "other")
    no_ip = env.port(internal["id"], fixed_ips=[])
    error = env.error(
        400, "PUT", f"floatingips/{floating['id']}", json={"floatingip": {"port_id": no_ip["id"]}}
    )
    assert "has no fixed IPv4 address" in error["message"]
    assert env.ok("GET", "floatingips", params={"floating_network_id": public["id"]})[
        "floatingips"
    ] == [env.ok("GET", f"floatingips/{floating['id']}")["floatingip"]]
