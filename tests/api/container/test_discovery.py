"""Version discovery and microversion negotiation as python-zunclient expects them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Env


def test_root_lists_v1_with_its_microversion_range(env: Env) -> None:
    body = env.client.get("/").json()
    (v1,) = body["versions"]
    assert v1["id"] == "v1" and v1["status"] == "CURRENT"
    assert (v1["min_version"], v1["max_version"]) == ("1.1", "1.40")
    assert body["default_version"] == v1


def test_v1_document(env: Env) -> None:
    body = env.client.get("/v1").json()
    assert body["id"] == "v1"
    assert body["media_types"][0]["type"] == "application/vnd.openstack.zun.v1+json"


def test_every_response_echoes_min_max_and_current(env: Env) -> None:
    response = env.call("GET", "/v1/containers", version="1.12")
    assert response.status_code == 200
    assert response.headers["openstack-api-version"] == "container 1.12"
    assert response.headers["openstack-api-minimum-version"] == "container 1.1"
    assert response.headers["openstack-api-maximum-version"] == "container 1.40"


def test_latest_is_the_maximum(env: Env) -> None:
    response = env.call("GET", "/v1/containers", version="latest")
    assert response.headers["openstack-api-version"] == "container 1.40"


def test_version_out_of_range_is_406_in_zun_shape(env: Env) -> None:
    for version in ("1.41", "2.0", "1.0"):
        response = env.call("GET", "/v1/containers", version=version)
        assert response.status_code == 406, version
        (error,) = response.json()["errors"]
        assert error["status"] == 406 and "not supported" in error["detail"]
        assert response.headers["openstack-api-maximum-version"] == "container 1.40"


def test_unauthenticated_is_401(env: Env) -> None:
    response = env.client.get("/v1/containers")
    assert response.status_code == 401
    assert response.json()["errors"][0]["status"] == 401


def test_openapi_document_lists_the_routes(env: Env) -> None:
    document = env.client.get("/openapi.json").json()
    assert "/v1/containers" in document["paths"]
    assert "/v1/containers/{ident}/stop" in document["paths"]
    assert "/v1/quotas/{project_id}" in document["paths"]
    assert "requestBody" in document["paths"]["/v1/containers"]["post"]
    assert "requestBody" in document["paths"]["/v1/capsules/"]["post"]  # the client's spelling
