"""/v3/regions, /v3/services and /v3/endpoints, and how they make up the catalog."""

from __future__ import annotations

import pytest


def test_region_lifecycle(cloud) -> None:
    region = cloud.create("regions", {"id": "Zone1", "description": "first"})
    assert region == {
        "id": "Zone1",
        "description": "first",
        "parent_region_id": None,
        "links": {"self": "http://testserver/v3/regions/Zone1"},
    }
    child = cloud.create("regions", {"parent_region_id": "Zone1"})
    assert len(child["id"]) == 32 and child["parent_region_id"] == "Zone1"
    put = cloud.client.put("/v3/regions/Zone2", json={"region": {}}, headers=cloud.admin)
    assert put.status_code == 201 and put.json()["region"]["id"] == "Zone2"
    listed = cloud.client.get("/v3/regions?parent_region_id=Zone1", headers=cloud.demo).json()
    assert [r["id"] for r in listed["regions"]] == [child["id"]]
    assert cloud.client.get("/v3/regions/Zone1", headers=cloud.demo).status_code == 200
    cloud.error(cloud.client.delete("/v3/regions/Zone1", headers=cloud.admin), 409, "child")
    moved = cloud.client.patch(
        f"/v3/regions/{child['id']}",
        json={"region": {"parent_region_id": "Zone2", "description": "moved"}},
        headers=cloud.admin,
    ).json()["region"]
    assert moved["parent_region_id"] == "Zone2" and moved["description"] == "moved"
    assert cloud.client.delete("/v3/regions/Zone1", headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.get("/v3/regions/Zone1", headers=cloud.admin), 404, "region")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"id": "RegionOne"}, 409, "already exists"),
        ({"id": "r" * 256}, 400, "region.id"),
        ({"parent_region_id": "nowhere"}, 400, "parent region"),
        ({"description": 5}, 400, "region.description"),
    ],
)
def test_create_region_bad_input(cloud, body: dict, status: int, fragment: str) -> None:
    response = cloud.client.post("/v3/regions", json={"region": body}, headers=cloud.admin)
    cloud.error(response, status, fragment)


def test_region_cycles_are_refused(cloud) -> None:
    cloud.create("regions", {"id": "A"})
    cloud.create("regions", {"id": "B", "parent_region_id": "A"})
    response = cloud.client.patch(
        "/v3/regions/A", json={"region": {"parent_region_id": "B"}}, headers=cloud.admin
    )
    cloud.error(response, 400, "cycle")
    response = cloud.client.put("/v3/regions/C", json={"region": {"id": "D"}}, headers=cloud.admin)
    cloud.error(response, 400, "differs")


def test_service_and_endpoint_lifecycle(cloud) -> None:
    service = cloud.create("services", {"type": "compute", "name": "nova", "description": "VMs"})
    assert service["enabled"] is True and service["links"]["self"].endswith(service["id"])
    endpoint = cloud.create(
        "endpoints",
        {
            "service_id": service["id"],
            "interface": "public",
            "url": "http://10.0.0.1:8774/v2.1",
            "region_id": "RegionOne",
        },
    )
    assert endpoint["region"] == endpoint["region_id"] == "RegionOne"
    assert endpoint["enabled"] is True
    catalog = cloud.client.get("/v3/auth/catalog", headers=cloud.demo).json()["catalog"]
    (nova,) = [entry for entry in catalog if entry["type"] == "compute"]
    assert nova["name"] == "nova" and nova["endpoints"][0]["url"] == "http://10.0.0.1:8774/v2.1"

    path = f"/v3/endpoints/{endpoint['id']}"
    moved = cloud.client.patch(
        path, json={"endpoint": {"url": "http://10.0.0.2:8774/v2.1"}}, headers=cloud.admin
    )
    assert moved.json()["endpoint"]["url"] == "http://10.0.0.2:8774/v2.1"
    cloud.client.patch(path, json={"endpoint": {"enabled": False}}, headers=cloud.admin)
    catalog = cloud.client.get("/v3/auth/catalog", headers=cloud.demo).json()["catalog"]
    assert "compute" not in {entry["type"] for entry in catalog}

    listed = cloud.client.get(
        f"/v3/endpoints?service_id={service['id']}&interface=public", headers=cloud.admin
    ).json()["endpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    by_type = cloud.client.get("/v3/services?type=compute", headers=cloud.admin).json()
    assert [s["id"] for s in by_type["services"]] == [service["id"]]
    renamed = cloud.client.patch(
        f"/v3/services/{service['id']}", json={"service": {"name": "nova2"}}, headers=cloud.admin
    )
    assert renamed.json()["service"]["name"] == "nova2"
    assert cloud.client.get(f"/v3/services/{service['id']}", headers=cloud.admin).status_code == 200
    assert cloud.client.get(path, headers=cloud.admin).status_code == 200
    assert (
        cloud.client.delete(f"/v3/services/{service['id']}", headers=cloud.admin).status_code == 204
    )
    cloud.error(cloud.client.get(path, headers=cloud.admin), 404, "endpoint")


def test_delete_endpoint(cloud) -> None:
    (first, *_) = cloud.client.get("/v3/endpoints", headers=cloud.admin).json()["endpoints"]
    path = f"/v3/endpoints/{first['id']}"
    assert cloud.client.delete(path, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.delete(path, headers=cloud.admin), 404)


def test_region_with_endpoints_cannot_be_deleted(cloud) -> None:
    cloud.error(cloud.client.delete("/v3/regions/RegionOne", headers=cloud.admin), 409, "endpoints")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "'service.type' is required"),
        ({"type": ""}, "service.type"),
        ({"type": "t" * 256}, "at most 255"),
        ({"type": "x", "enabled": "no"}, "service.enabled"),
    ],
)
def test_create_service_bad_input(cloud, body: dict, fragment: str) -> None:
    response = cloud.client.post("/v3/services", json={"service": body}, headers=cloud.admin)
    cloud.error(response, 400, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"interface": "public", "url": "http://x"}, "'endpoint.service_id' is required"),
        ({"service_id": "{s}", "interface": "private", "url": "http://x"}, "endpoint.interface"),
        ({"service_id": "{s}", "interface": "public", "url": "not a url"}, "endpoint.url"),
        ({"service_id": "{s}", "interface": "public"}, "'endpoint.url' is required"),
        (
            {"service_id": "nope", "interface": "public", "url": "http://x"},
            "Could not find service",
        ),
        (
            {"service_id": "{s}", "interface": "public", "url": "http://x", "region_id": "Mars"},
            "Could not find region",
        ),
    ],
)
def test_create_endpoint_bad_input(cloud, body: dict, fragment: str) -> None:
    service = cloud.create("services", {"type": "volume"})
    body = {k: v.replace("{s}", service["id"]) for k, v in body.items()}
    response = cloud.client.post("/v3/endpoints", json={"endpoint": body}, headers=cloud.admin)
    cloud.error(response, 400, fragment)


def test_endpoint_accepts_legacy_region(cloud) -> None:
    service = cloud.create("services", {"type": "volume"})
    endpoint = cloud.create(
        "endpoints",
        {
            "service_id": service["id"],
            "interface": "admin",
            "url": "http://x",
            "region": "RegionOne",
        },
    )
    assert endpoint["region_id"] == "RegionOne"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v3/services"),
        ("get", "/v3/endpoints"),
        ("post", "/v3/services"),
        ("post", "/v3/endpoints"),
        ("post", "/v3/regions"),
        ("delete", "/v3/regions/RegionOne"),
    ],
)
def test_catalog_management_is_for_admins(cloud, method: str, path: str) -> None:
    kwargs = {"json": {}} if method == "post" else {}  # refused before the body is read
    cloud.error(getattr(cloud.client, method)(path, headers=cloud.demo, **kwargs), 403)


def test_unknown_catalog_objects_are_404(cloud) -> None:
    for path in ("/v3/services/nope", "/v3/endpoints/nope", "/v3/regions/nope"):
        cloud.error(cloud.client.get(path, headers=cloud.admin), 404, "nope")
