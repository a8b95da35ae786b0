"""Flavors: defaults, visibility, create/update/delete, extra specs, access, paging,
and the microversion-dependent views."""

from __future__ import annotations

from tests.api.compute.conftest import Env


def test_default_flavors_are_listed(env: Env) -> None:
    flavors = env.ok("GET", "/flavors")["flavors"]
    assert {f["name"] for f in flavors} == {
        "m1.nano",
        "m1.tiny",
        "m1.small",
        "m1.medium",
        "m1.large",
    }
    tiny = next(f for f in flavors if f["name"] == "m1.tiny")
    assert tiny["links"][0] == {"rel": "self", "href": "http://127.0.0.1:8774/v2.1/flavors/1"}
    assert "description" not in tiny


def test_detail_follows_the_microversion(env: Env) -> None:
    old = env.ok("GET", "/flavors/42")["flavor"]
    assert (old["ram"], old["vcpus"], old["disk"], old["swap"]) == (64, 1, 1, "")
    assert "extra_specs" not in old and "description" not in old
    new = env.ok("GET", "/flavors/42", version="2.75")["flavor"]
    assert new["swap"] == 0 and new["description"] is None and new["extra_specs"] == {}
    assert new["os-flavor-access:is_public"] is True


def test_create_private_flavor_and_access(env: Env) -> None:
    body = {
        "flavor": {
            "name": "secret",
            "ram": 128,
            "vcpus": 1,
            "disk": 1,
            "os-flavor-access:is_public": False,
            "id": "s1",
        }
    }
    assert env.call("POST", "/flavors", json=body).status_code == 403
    created = env.ok("POST", "/flavors", "admin", json=body)["flavor"]
    assert created["id"] == "s1" and created["os-flavor-access:is_public"] is False
    assert env.call("GET", "/flavors/s1").status_code == 404
    assert env.call("POST", "/flavors", "admin", json=body).status_code == 409
    demo = env.users["demo"].project_id
    grant = {"addTenantAccess": {"tenant": demo}}
    access = env.ok("POST", "/flavors/s1/action", "admin", json=grant)["flavor_access"]
    assert access == [{"flavor_id": "s1", "tenant_id": demo}]
    assert env.call("POST", "/flavors/s1/action", "admin", json=grant).status_code == 409
    assert env.ok("GET", "/flavors/s1")["flavor"]["name"] == "secret"
    assert "secret" in {f["name"] for f in env.ok("GET", "/flavors")["flavors"]}
    assert "secret" not in {f["name"] for f in env.ok("GET", "/flavors", "other")["flavors"]}
    listed = env.ok("GET", "/flavors/s1/os-flavor-access", "admin")["flavor_access"]
    assert listed == access
    revoke = {"removeTenantAccess": {"tenant": demo}}
    assert env.ok("POST", "/flavors/s1/action", "admin", json=revoke)["flavor_access"] == []
    assert env.call("POST", "/flavors/s1/action", "admin", json=revoke).status_code == 404
    public_access = env.call("POST", "/flavors/1/action", "admin", json=grant, version="2.7")
    assert public_access.status_code == 409
    assert env.call("GET", "/flavors/1/os-flavor-access", "admin").status_code == 404


def test_admin_lists_by_is_public(env: Env) -> None:
    body = {
        "flavor": {
            "name": "hidden",
            "ram": 128,
            "vcpus": 1,
            "disk": 0,
            "os-flavor-access:is_public": False,
        }
    }
    env.ok("POST", "/flavors", "admin", json=body)

    def names(**query: str) -> set[str]:
        return {f["name"] for f in env.ok("GET", "/flavors", "admin", params=query)["flavors"]}

    assert "hidden" not in names()
    assert "hidden" in names(is_public="None")
    assert names(is_public="false") == {"hidden"}


def test_bad_flavor_bodies(env: Env) -> None:
    bad = [
        {"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 1}},
        {"flavor": {"name": "x", "ram": 1, "vcpus": 1}},
        {"flavor": {"name": " x", "ram": 1, "vcpus": 1, "disk": 1}},
        {"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "bogus": 1}},
        {"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "id": "a/b"}},
        {"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "d"}},
        [],
    ]
    for body in bad:
        response = env.call("POST", "/flavors", "admin", json=body)
        assert response.status_code == 400, body
        assert "badRequest" in response.json()
    response = env.call(
        "POST", "/flavors", "admin", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_description_and_delete(env: Env) -> None:
    body = {"flavor": {"name": "d", "ram": 1, "vcpus": 1, "disk": 1, "description": "first"}}
    created = env.ok("POST", "/flavors", "admin", json=body, version="2.55")["flavor"]
    assert created["description"] == "first"
    update = {"flavor": {"description": "second"}}
    assert env.call("PUT", f"/flavors/{created['id']}", "admin", json=update).status_code == 404
    updated = env.ok("PUT", f"/flavors/{created['id']}", "admin", json=update, version="2.55")
    assert updated["flavor"]["description"] == "second"
    assert env.call("DELETE", f"/flavors/{created['id']}", "demo").status_code == 403
    assert env.call("DELETE", f"/flavors/{created['id']}", "admin").status_code == 202
    assert env.call("GET", f"/flavors/{created['id']}").status_code == 404


def test_extra_specs(env: Env) -> None:
    specs = {"extra_specs": {"hw:cpu_policy": "dedicated", "capabilities:hypervisor_type": "fake"}}
    assert env.call("POST", "/flavors/1/os-extra_specs", json=specs).status_code == 403
    assert env.ok("POST", "/flavors/1/os-extra_specs", "admin", json=specs) == specs
    assert env.ok("GET", "/flavors/1/os-extra_specs") == specs
    assert env.ok("GET", "/flavors/1/os-extra_specs/hw:cpu_policy") == {
        "hw:cpu_policy": "dedicated"
    }
    assert env.ok(
        "PUT", "/flavors/1/os-extra_specs/hw:cpu_policy", "admin", json={"hw:cpu_policy": "shared"}
    ) == {"hw:cpu_policy": "shared"}
    mismatch = env.call("PUT", "/flavors/1/os-extra_specs/a", "admin", json={"b": "1"})
    assert mismatch.status_code == 400
    bad_key = env.call(
        "POST", "/flavors/1/os-extra_specs", "admin", json={"extra_specs": {"a/b": "1"}}
    )
    assert bad_key.status_code == 400
    assert (
        env.ok("GET", "/flavors/1", version="2.61")["flavor"]["extra_specs"]["hw:cpu_policy"]
        == "shared"
    )
    assert env.call("DELETE", "/flavors/1/os-extra_specs/hw:cpu_policy", "admin").status_code == 200
    assert env.call("GET", "/flavors/1/os-extra_specs/hw:cpu_policy").status_code == 404


def test_paging_and_filters(env: Env) -> None:
    page = env.ok("GET", "/flavors", params={"limit": 2})
    assert [f["id"] for f in page["flavors"]] == ["1", "2"]
    next_href = page["flavors_links"][0]["href"]
    assert "marker=2" in next_href
    rest = env.ok("GET", "/flavors", params={"marker": "2"})["flavors"]
    assert [f["id"] for f in rest] == ["3", "4", "42"]
    big = env.ok("GET", "/flavors/detail", params={"minRam": 4096})["flavors"]
    assert {f["name"] for f in big} == {"m1.medium", "m1.large"}
    assert env.call("GET", "/flavors", params={"marker": "nope"}).status_code == 400
    assert env.call("GET", "/flavors", params={"minRam": "x"}).status_code == 400
    by_ram = env.ok("GET", "/flavors/detail", params={"sort_key": "memory_mb", "sort_dir": "desc"})
    assert by_ram["flavors"][0]["name"] == "m1.large"


def test_versions_and_bad_microversion(env: Env) -> None:
    root = env.client.get("/").json()["versions"][0]
    assert (root["id"], root["min_version"], root["status"]) == ("v2.1", "2.1", "CURRENT")
    version = env.client.get("/v2.1").json()["version"]
    assert version["version"] == root["version"]
    response = env.call("GET", "/flavors", version="2.999")
    assert response.status_code == 406 and "notAcceptable" in response.json()
    response = env.call("GET", "/flavors", version="latest")
    assert response.headers["openstack-api-version"] == f"compute {root['version']}"
    assert env.client.get("/v2.1/flavors").status_code == 401


def test_openapi_document(env: Env) -> None:
    document = env.client.get("/openapi.json").json()
    assert "/v2.1/servers" in document["paths"] and "/v2.1/flavors/{flavor_id}" in document["paths"]
    create = document["paths"]["/v2.1/servers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CreateBody"
    )
