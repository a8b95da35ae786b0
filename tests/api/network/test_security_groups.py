"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Env


def rule(env: Env, group_id: str, user: str = "demo", **body: Any) -> dict[str, Any]:
    return env.create("security_group_rule", user, security_group_id=group_id, **body)


def test_default_group_is_made_on_first_use(env: Env) -> None:
    (default,) = env.ok("GET", "security-groups")["security_groups"]
    assert default["name"] == "default" and default["project_id"] == env.project("demo")
    rules = {
        (r["direction"], r["ethertype"], r["remote_group_id"])
        for r in default["security_group_rules"]
    }
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default["id"]),
        ("ingress", "IPv6", default["id"]),
    }
    assert env.ok("GET", "security-groups")["security_groups"] == [default]  # only one
    assert [g["name"] for g in env.ok("GET", "security-groups", "other")["security_groups"]] == [
        "default"
    ]
    renamed = env.error(
        409, "PUT", f"security-groups/{default['id']}", json={"security_group": {"name": "x"}}
    )
    assert renamed["type"] == "SecurityGroupCannotUpdateDefault"
    removed = env.error(409, "DELETE", f"security-groups/{default['id']}")
    assert removed["type"] == "SecurityGroupCannotRemoveDefault"
    again = env.error(409, "POST", "security-groups", json={"security_group": {"name": "default"}})
    assert again["type"] == "SecurityGroupDefaultAlreadyExists"


def test_group_lifecycle(env: Env) -> None:
    group = env.create("security_group", name="web", description="web servers")
    assert group["stateful"] is True and group["revision_number"] == 1
    assert {(r["direction"], r["ethertype"]) for r in group["security_group_rules"]} == {
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    }
    path = f"security-groups/{group['id']}"
    updated = env.ok("PUT", path, json={"security_group": {"name": "www", "stateful": False}})
    assert (
        updated["security_group"]["name"] == "www"
        and updated["security_group"]["stateful"] is False
    )
    env.error(404, "GET", path, "other")
    env.error(403, "DELETE", path, "reader")
    network = env.network()
    env.subnet(network["id"])
    port = env.port(network["id"], security_groups=[group["id"]])
    in_use = env.error(409, "DELETE", path)
    assert in_use["type"] == "SecurityGroupInUse"
    stateful = env.error(409, "PUT", path, json={"security_group": {"stateful": True}})
    assert "is in use" in stateful["message"]
    env.ok("PUT", f"ports/{port['id']}", json={"port": {"security_groups": []}})
    env.ok("DELETE", path)
    env.error(404, "GET", path)


def test_rules(env: Env) -> None:
    group = env.create("security_group", name="web")
    ssh = rule(
        env,
        group["id"],
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    assert (ssh["protocol"], ssh["port_range_min"], ssh["port_range_max"]) == ("tcp", 22, 22)
    assert ssh["ethertype"] == "IPv4" and ssh["project_id"] == env.project("demo")
    duplicate = env.error(
        409,
        "POST",
        "security-group-rules",
        json={
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "6",
                "port_range_min": 22,
                "port_range_max": 22,
                "remote_ip_prefix": "0.0.0.0/0",
            }
        },
    )
    assert duplicate["type"] == "SecurityGroupRuleExists" and ssh["id"] in duplicate["message"]
    icmp = rule(
        env, group["id"], direction="ingress", protocol="icmp", port_range_min=8, port_range_max=0
    )
    assert icmp["port_range_min"] == 8
    v6 = rule(
        env,
        group["id"],
        direction="ingress",
        ethertype="IPv6",
        protocol="ipv6-icmp",
        remote_ip_prefix="2001:db8::1/64",
    )
    assert v6["remote_ip_prefix"] == "2001:db8::/64"
    peers = rule(env, group["id"], direction="ingress", remote_group_id=group["id"])
    assert peers["protocol"] is None and peers["remote_group_id"] == group["id"]
    shown = env.ok("GET", f"security-groups/{group['id']}")["security_group"]
    assert len(shown["security_group_rules"]) == 6 and shown["revision_number"] == 5
    listed = env.ok(
        "GET",
        "security-group-rules",
        params={"security_group_id": group["id"], "direction": "ingress"},
    )
    assert len(listed["security_group_rules"]) == 4
    env.error(404, "GET", f"security-group-rules/{ssh['id']}", "other")
    env.error(
        404,
        "POST",
        "security-group-rules",
        "other",
        json={"security_group_rule": {"security_group_id": group["id"], "direction": "ingress"}},
    )
    env.ok("DELETE", f"security-group-rules/{ssh['id']}")
    env.error(404, "GET", f"security-group-rules/{ssh['id']}")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"protocol": "bogus"}, 400, "protocol bogus not supported"),
        ({"protocol": "300"}, 400, "not supported"),
        ({"port_range_min": 22}, 400, "Must also specify protocol"),
        (
            {"protocol": "tcp", "port_range_min": 0, "port_range_max": 10},
            400,
            "ports are 1 to 65535",
        ),
        (
            {"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
            400,
            "port_range_min must be <= port_range_max",
        ),
        ({"protocol": "udp", "port_range_max": 80}, 400, "without port_range_min"),
        (
            {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
            400,
            "only supported for TCP",
        ),
        ({"protocol": "icmp", "port_range_max": 3}, 400, "ICMP type (port-range-min) is missing"),
        ({"protocol": "icmp", "port_range_min": 300}, 400, "not within 0-255"),
        ({"protocol": "icmpv6"}, 400, "ethertype IPv4 and protocol icmpv6 conflict"),
        ({"remote_ip_prefix": "::/0"}, 400, "Conflicting value ethertype IPv4"),
        (
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"},
            400,
            "Only remote_ip_prefix or remote_group_id",
        ),
        ({"remote_ip_prefix": "ten"}, 400, "not a valid IP subnet"),
        ({"remote_group_id": "nope"}, 404, "Security group nope could not be found"),
        ({"direction": "sideways"}, 400, "direction"),
    ],
)
def test_bad_rules(env: Env, body: dict[str, Any], status: int, message: str) -> None:
    group = env.create("security_group", name="g")
    rule_body = {"security_group_id": group["id"], "direction": "ingress", **body}
    error = env.error(
        status, "POST", "security-group-rules", json={"security_group_rule": rule_body}
    )
    assert message in error["message"]


def test_deleting_a_group_drops_rules_that_refer_to_it(env: Env) -> None:
    web = env.create("security_group", name="web")
    db = env.create("security_group", name="db")
    rule(env, db["id"], direction="ingress", remote_group_id=web["id"])
    env.ok("DELETE", f"security-groups/{web['id']}")
    remaining = env.ok("GET", f"security-groups/{db['id']}")["security_group"][
        "security_group_rules"
    ]
    assert all(r["remote_group_id"] is None for r in remaining)


def test_admin_may_remove_a_default_group(env: Env) -> None:
    (default,) = env.ok("GET", "security-groups", "other")["security_groups"]
    env.ok("DELETE", f"security-groups/{default['id']}", "admin")
    (fresh,) = env.ok("GET", "security-groups", "other")["security_groups"]
    assert fresh["id"] != default["id"] and fresh["name"] == "default"
