"""Updating images with JSON patch, and tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Env


def op(kind: str, path: str, *value: Any) -> dict[str, Any]:
    return {"op": kind, "path": path, **({"value": value[0]} if value else {})}


@pytest.fixture
def image(env: Env) -> dict[str, Any]:
    return env.create(name="before", os_distro="debian", tags=["keep"])


def test_patch_core_attributes_and_properties(env: Env, image: dict[str, Any]) -> None:
    response = env.patch(
        image["id"],
        [
            op("replace", "/name", "after"),
            op("add", "/min_ram", 1024),
            op("replace", "/protected", True),
            op("add", "/os_version", "12"),
            op("replace", "/os_distro", "ubuntu"),
            op("add", "/tags", ["a", "b"]),
            op("add", "/disk_format", "qcow2"),
            op("add", "/a~1b~0c", "escaped"),
        ],
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "after" and updated["min_ram"] == 1024 and updated["protected"]
    assert updated["os_version"] == "12" and updated["os_distro"] == "ubuntu"
    assert updated["tags"] == ["a", "b"] and updated["disk_format"] == "qcow2"
    assert updated["a/b~c"] == "escaped"
    assert env.show(image["id"]) == updated


def test_remove_and_re_add_a_property(env: Env, image: dict[str, Any]) -> None:
    removed = env.patch(image["id"], [op("remove", "/os_distro")]).json()
    assert "os_distro" not in removed
    readded = env.patch(image["id"], [op("add", "/os_distro", "arch")]).json()
    assert readded["os_distro"] == "arch"
    overwritten = env.patch(image["id"], [op("add", "/os_distro", "alpine")]).json()
    assert overwritten["os_distro"] == "alpine"


def test_name_can_be_cleared(env: Env, image: dict[str, Any]) -> None:
    assert env.patch(image["id"], [op("replace", "/name", None)]).json()["name"] is None


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ([op("replace", "/status", "active")], 403),
        ([op("replace", "/id", "x")], 403),
        ([op("add", "/checksum", "x")], 403),
        ([op("replace", "/size", 1)], 403),
        ([op("add", "/self", "x")], 403),
        ([op("add", "/locations", [])], 403),
        ([op("add", "/locations/-", {})], 403),
        ([op("add", "/os_glance_foo", "x")], 403),
        ([op("add", "/deleted", "x")], 403),
        ([op("remove", "/name")], 403),
        ([op("remove", "/tags")], 403),
        ([op("remove", "/missing")], 409),
        ([op("replace", "/missing", "x")], 409),
        ([op("add", "/name", "n" * 256)], 400),
        ([op("add", "/min_ram", "big")], 400),
        ([op("add", "/min_disk", -5)], 400),
        ([op("add", "/visibility", "everyone")], 400),
        ([op("add", "/disk_format", "floppy")], 400),
        ([op("add", "/container_format", "zip")], 400),
        ([op("add", "/os_distro", 3)], 400),
        ([op("add", "/tags", "x")], 400),
        ([op("add", "/name")], 400),
        ([op("copy", "/name", "x")], 400),
        ([op("test", "/name", "before")], 400),
        ([op("add", "name", "x")], 400),
        ([op("add", "/", "x")], 400),
        ([op("add", "/a/b", "x")], 400),
        ([op("add", "/a~2", "x")], 400),
        ([{"path": "/name", "value": "x"}], 400),
        ({"op": "add", "path": "/name", "value": "x"}, 400),
        ("not a patch", 400),
    ],
)
def test_refused_patches_change_nothing(
    env: Env, image: dict[str, Any], ops: Any, status: int
) -> None:
    response = env.patch(
        image["id"], [op("replace", "/name", "changed"), *ops] if isinstance(ops, list) else ops
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert env.show(image["id"]) == image


def test_patch_needs_the_patch_media_type(env: Env, image: dict[str, Any]) -> None:
    for content_type in ("application/json", "application/json-patch+json", ""):
        response = env.call(
            "PATCH",
            f"/v2/images/{image['id']}",
            json=[op("replace", "/name", "x")],
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 415


def test_malformed_patch_is_400(env: Env, image: dict[str, Any]) -> None:
    response = env.call(
        "PATCH",
        f"/v2/images/{image['id']}",
        content=b"[{",
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    assert response.status_code == 400


def test_who_may_patch(env: Env, image: dict[str, Any]) -> None:
    rename = [op("replace", "/name", "x")]
    assert env.patch(image["id"], rename, "reader").status_code == 403
    assert env.patch(image["id"], rename, "other").status_code == 404
    assert env.patch(image["id"], rename, "admin").status_code == 200
    public = env.create("admin", visibility="public")
    assert env.patch(public["id"], rename).status_code == 403


def test_visibility_changes_follow_policy(env: Env, image: dict[str, Any]) -> None:
    refused = env.patch(image["id"], [op("replace", "/visibility", "public")])
    assert refused.status_code == 403
    for visibility in ("community", "private", "shared"):
        response = env.patch(image["id"], [op("replace", "/visibility", visibility)])
        assert response.json()["visibility"] == visibility
    made_public = env.patch(image["id"], [op("replace", "/visibility", "public")], "admin")
    assert made_public.json()["visibility"] == "public"


def test_only_admins_change_owners(env: Env, image: dict[str, Any]) -> None:
    other = env.users["other"].project_id
    assert env.patch(image["id"], [op("replace", "/owner", other)]).status_code == 403
    assert env.patch(image["id"], [op("replace", "/owner", other)], "admin").status_code == 200
    assert env.call("GET", f"/v2/images/{image['id']}").status_code == 404
    assert env.show(image["id"], "other")["owner"] == other


def test_formats_are_fixed_once_data_is_uploaded(env: Env) -> None:
    image = env.create(disk_format="raw", container_format="bare")
    assert env.patch(image["id"], [op("replace", "/disk_format", "qcow2")]).status_code == 200
    env.upload(image["id"], b"data")
    for path, value in (("/disk_format", "raw"), ("/container_format", "ovf")):
        response = env.patch(image["id"], [op("replace", path, value)])
        assert response.status_code == 403
    assert env.patch(image["id"], [op("replace", "/name", "still fine")]).status_code == 200


def test_tags(env: Env, image: dict[str, Any]) -> None:
    path = f"/v2/images/{image['id']}/tags"
    for _ in range(2):
        assert env.call("PUT", f"{path}/new%20tag").status_code == 204
    assert env.show(image["id"])["tags"] == ["keep", "new tag"]
    assert env.call("DELETE", f"{path}/keep").status_code == 204
    assert env.show(image["id"])["tags"] == ["new tag"]
    missing = env.call("DELETE", f"{path}/keep")
    assert missing.status_code == 404 and "keep" in missing.json()["error"]["message"]
    assert env.call("PUT", f"{path}/{'t' * 256}").status_code == 400
    assert env.call("PUT", f"{path}/x", "reader").status_code == 403
    assert env.call("PUT", f"{path}/x", "other").status_code == 404
    assert env.call("DELETE", f"{path}/new%20tag", "other").status_code == 404
