"""``/v2.0/quotas`` and ``/v2.0/{resources}/{id}/tags``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Env


def test_quota_defaults_and_details(env: Env) -> None:
    project = env.project("demo")
    quota = env.ok("GET", f"quotas/{project}")["quota"]
    assert quota["network"] == 100 and quota["port"] == 500 and quota["subnetpool"] == -1
    assert env.ok("GET", f"quotas/{project}/default")["quota"] == quota
    env.network()
    details = env.ok("GET", f"quotas/{project}/details")["quota"]
    assert details["network"] == {"limit": 100, "used": 1, "reserved": 0}
    env.error(403, "GET", f"quotas/{env.project('other')}")
    env.error(403, "GET", "quotas")
    env.error(403, "PUT", f"quotas/{project}", json={"quota": {"network": 5}})


def test_quota_limits_are_enforced(env: Env) -> None:
    project = env.project("demo")
    updated = env.ok(
        "PUT", f"quotas/{project}", "admin", json={"quota": {"network": 1, "router": 0}}
    )
    assert updated["quota"]["network"] == 1 and updated["quota"]["subnet"] == 100
    env.network()
    over = env.error(409, "POST", "networks", json={"network": {"name": "two"}})
    assert over["type"] == "OverQuota" and "['network']" in over["message"]
    env.error(409, "POST", "routers", json={"router": {"name": "r"}})
    listed = env.ok("GET", "quotas", "admin")["quotas"]
    assert [q["project_id"] for q in listed] == [project]
    check = env.error(
        400,
        "PUT",
        f"quotas/{project}",
        "admin",
        json={"quota": {"network": 0, "check_limit": True}},
    )
    assert check["type"] == "InvalidQuotaValue"
    env.error(400, "PUT", f"quotas/{project}", "admin", json={"quota": {"network": -2}})
    env.error(400, "PUT", f"quotas/{project}", "admin", json={"quota": {"widgets": 2}})
    env.ok("DELETE", f"quotas/{project}", "admin")
    assert env.ok("GET", f"quotas/{project}")["quota"]["network"] == 100
    assert env.network(name="two")["name"] == "two"


@pytest.mark.parametrize(
    "collection", ["networks", "subnets", "ports", "routers", "security-groups", "subnetpools"]
)
def test_tags_on_each_resource(env: Env, collection: str) -> None:
    network = env.network()
    resource_id = {
        "networks": lambda: network["id"],
        "subnets": lambda: env.subnet(network["id"])["id"],
        "ports": lambda: env.port(network["id"])["id"],
        "routers": lambda: env.create("router", name="r")["id"],
        "security-groups": lambda: env.create("security_group", name="g")["id"],
        "subnetpools": lambda: env.create("subnetpool", prefixes=["10.0.0.0/8"])["id"],
    }[collection]()
    path = f"{collection}/{resource_id}/tags"
    assert env.ok("PUT", path, json={"tags": ["b", "a", "a"]}) == {"tags": ["a", "b"]}
    assert env.call("PUT", f"{path}/c").status_code == 201
    assert env.call("GET", f"{path}/c").status_code == 204
    assert env.error(404, "GET", f"{path}/zzz")["type"] == "TagNotFound"
    assert env.ok("GET", path) == {"tags": ["a", "b", "c"]}
    assert env.call("DELETE", f"{path}/a").status_code == 204
    env.error(404, "DELETE", f"{path}/a")
    assert env.ok("POST", path, json={"tags": ["d"]}) == {"tags": ["b", "c", "d"]}
    shown = env.ok("GET", f"{collection}/{resource_id}")
    assert next(iter(shown.values()))["tags"] == ["b", "c", "d"]
    env.error(404, "GET", path, "other")
    env.error(403, "PUT", f"{path}/x", "reader")
    assert env.call("DELETE", path).status_code == 204
    assert env.ok("GET", path) == {"tags": []}


def test_tag_rules_filters_and_revisions(env: Env) -> None:
    blue = env.network(name="blue")
    env.network(name="plain")
    path = f"networks/{blue['id']}/tags"
    env.ok("PUT", path, json={"tags": ["blue", "prod"]})
    assert env.ok("GET", f"networks/{blue['id']}")["network"]["revision_number"] == 2
    comma = env.error(400, "PUT", path, json={"tags": ["a,b"]})
    assert "without commas" in comma["message"]
    env.error(400, "PUT", path, json={"tags": ["x" * 61]})
    env.error(400, "PUT", path, json={"tags": "blue"})
    env.error(404, "GET", "widgets/x/tags")

    def names(**params: str) -> list[str]:
        return sorted(n["name"] for n in env.ok("GET", "networks", params=params)["networks"])

    assert names(tags="blue,prod") == ["blue"]
    assert names(tags="blue,dev") == []
    assert names(**{"tags-any": "dev,prod"}) == ["blue"]
    assert names(**{"not-tags": "blue"}) == ["plain"]
    assert names(**{"not-tags-any": "dev,prod"}) == ["plain"]
