"""What is not one resource: version discovery, authentication, extensions, agents,
availability zones, and the framework's own errors in Neutron's shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratus.network.api.extensions import EXTENSIONS
from stratus.network.rpc import ServerEndpoint

if TYPE_CHECKING:
    from conftest import Env


def test_versions_need_no_token(env: Env) -> None:
    body = env.client.get("/").json()
    assert body == {
        "versions": [
            {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"href": "http://127.0.0.1:9696/v2.0/", "rel": "self"}],
            }
        ]
    }
    assert env.client.get("/v2.0/").status_code == 401
    resources = env.ok("GET", "")["resources"]
    assert {r["collection"] for r in resources} >= {"networks", "subnets", "ports"}


def test_authentication(env: Env) -> None:
    missing = env.client.get("/v2.0/networks")
    assert missing.status_code == 401 and "NeutronError" in missing.json()
    bad = env.client.get("/v2.0/networks", headers={"X-Auth-Token": "not-a-token"})
    assert bad.status_code == 401


def test_framework_errors_are_neutron_errors(env: Env) -> None:
    assert env.error(404, "GET", "widgets")["message"] == "The resource could not be found."
    assert env.call("PATCH", "networks").status_code == 405


def test_extensions(env: Env) -> None:
    listed = env.ok("GET", "extensions")["extensions"]
    assert {e["alias"] for e in listed} == set(EXTENSIONS)
    assert {"router", "external-net", "provider", "binding", "security-group", "quotas"} <= set(
        EXTENSIONS
    )
    shown = env.ok("GET", "extensions/router")["extension"]
    assert shown["alias"] == "router" and shown["name"]
    missing = env.error(404, "GET", "extensions/dvr")
    assert missing["type"] == "ExtensionNotFound"


def agent(agent_type: str, host: str, zone: str = "nova", **configurations: Any) -> dict[str, Any]:
    return {
        "agent_type": agent_type,
        "binary": "stratus-agent",
        "host": host,
        "topic": "network.agent",
        "availability_zone": zone,
        "configurations": configurations,
        "start_flag": True,
    }


def test_agents_and_availability_zones(env: Env) -> None:
    assert env.ok("GET", "availability_zones")["availability_zones"] == []
    endpoint = ServerEndpoint(env.backend)
    endpoint.report_state(agent("Linux bridge agent", "compute1", tunnel_types=["vxlan"]))
    endpoint.report_state(agent("DHCP agent", "net1", "az1"))
    endpoint.report_state(agent("L3 agent", "net1", "az1"))
    listed = env.ok("GET", "agents", "admin")["agents"]
    assert [(a["host"], a["agent_type"]) for a in listed] == [
        ("compute1", "Linux bridge agent"),
        ("net1", "DHCP agent"),
        ("net1", "L3 agent"),
    ]
    l2 = listed[0]
    assert l2["alive"] is True and l2["admin_state_up"] is True
    assert l2["configurations"] == {"tunnel_types": ["vxlan"]} and l2["availability_zone"] is None
    assert [a["id"] for a in env.ok("GET", "agents")["agents"]] == [a["id"] for a in listed]
    denied = env.error(
        403, "PUT", f"agents/{listed[0]['id']}", json={"agent": {"description": "x"}}
    )
    assert "update_agent" in denied["message"]
    only_dhcp = env.ok("GET", "agents", "admin", params={"agent_type": "DHCP agent"})["agents"]
    assert [a["host"] for a in only_dhcp] == ["net1"]
    env.error(400, "GET", "agents", "admin", params={"colour": "red"})
    path = f"agents/{l2['id']}"
    changed = env.ok(
        "PUT", path, "admin", json={"agent": {"admin_state_up": False, "description": "drained"}}
    )
    assert (
        changed["agent"]["admin_state_up"] is False and changed["agent"]["description"] == "drained"
    )
    zones = env.ok("GET", "availability_zones")["availability_zones"]
    assert zones == [
        {"name": "az1", "resource": "network", "state": "available"},
        {"name": "az1", "resource": "router", "state": "available"},
    ]
    routers = env.ok("GET", "availability_zones", params={"resource": "router"})[
        "availability_zones"
    ]
    assert [z["resource"] for z in routers] == ["router"]
    network = env.network(availability_zone_hints=["az1"])
    assert network["availability_zone_hints"] == ["az1"]
    env.ok("DELETE", path, "admin")
    env.error(404, "GET", path, "admin")


def test_openapi_document_lists_the_request_bodies(env: Env) -> None:
    document = env.client.get("/openapi.json").json()
    create = document["paths"]["/v2.0/networks"]["post"]
    assert "requestBody" in create
