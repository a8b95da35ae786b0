"""Version discovery, JSON schemas and authentication."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from stratus.image.api.fields import CONTAINER_FORMATS, DISK_FORMATS

if TYPE_CHECKING:
    from conftest import Env


def test_root_lists_versions_as_multiple_choices(env: Env) -> None:
    response = env.client.get("/")
    assert response.status_code == 300
    versions = response.json()["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert len(current) == 1 and current[0]["id"].startswith("v2.")
    assert {v["id"] for v in versions} >= {"v2.0", "v2.1", "v2.5"}
    for version in versions:
        assert version["links"] == [{"rel": "self", "href": "http://127.0.0.1:9292/v2/"}]


def test_versions_path_lists_them_too(env: Env) -> None:
    response = env.client.get("/versions")
    assert response.status_code == 200
    assert response.json() == env.client.get("/").json()


@pytest.mark.parametrize("name", ["image", "images", "member", "members"])
def test_schemas(env: Env, name: str) -> None:
    response = env.call("GET", f"/v2/schemas/{name}")
    assert response.status_code == 200
    assert response.json()["name"] == name


def test_image_schema_says_what_the_api_enforces(env: Env) -> None:
    schema = env.call("GET", "/v2/schemas/image").json()
    properties = schema["properties"]
    assert properties["disk_format"]["enum"] == [None, *DISK_FORMATS]
    assert properties["container_format"]["enum"] == [None, *CONTAINER_FORMATS]
    assert properties["name"]["maxLength"] == 255
    assert properties["status"]["readOnly"] and properties["checksum"]["readOnly"]
    assert "readOnly" not in properties["visibility"]
    assert schema["additionalProperties"] == {"type": "string"}
    images = env.call("GET", "/v2/schemas/images").json()
    assert images["properties"]["images"]["items"] == schema


def test_requests_without_a_token_are_refused(env: Env) -> None:
    for method, path in (("GET", "/v2/images"), ("GET", "/v2/schemas/image")):
        response = env.client.request(method, path)
        assert response.status_code == 401
        assert response.json()["error"]["message"]


def test_unknown_and_revoked_tokens_are_refused(env: Env) -> None:
    env.app.state.validator.cache_time = 0  # ask identity every time: revocations show at once
    bogus = env.client.get("/v2/images", headers={"X-Auth-Token": "not-a-token"})
    assert bogus.status_code == 401
    token = env.identity.token("demo", "demo")
    assert env.client.get("/v2/images", headers={"X-Auth-Token": token}).status_code == 200
    env.identity.revoke(token)
    revoked = env.client.get("/v2/images", headers={"X-Auth-Token": token})
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == 401


def test_openapi_documents_the_request_bodies(env: Env) -> None:
    paths = env.client.get("/openapi.json").json()["paths"]
    expected = {
        ("/v2/images", "post"): "application/json",
        ("/v2/images/{image_id}", "patch"): "application/openstack-images-v2.1-json-patch",
        ("/v2/images/{image_id}/file", "put"): "application/octet-stream",
        ("/v2/images/{image_id}/members", "post"): "application/json",
        ("/v2/images/{image_id}/members/{member_id}", "put"): "application/json",
    }
    for (path, method), content_type in expected.items():
        assert list(paths[path][method]["requestBody"]["content"]) == [content_type]
