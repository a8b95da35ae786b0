"""Creating, showing and deleting images, deactivation, and what bad requests get."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from stratus.image.models import ImageMember, ImageProperty, ImageTag
from stratus.image.policy import DEFAULT_RULES, OWNER_MEMBER
from stratus.runtime.api.policy import ADMIN

if TYPE_CHECKING:
    from conftest import Env

FORMATS = {"disk_format": "qcow2", "container_format": "bare"}


def test_create_with_defaults(env: Env) -> None:
    response = env.call("POST", "/v2/images", json={})
    assert response.status_code == 201
    image = response.json()
    assert response.headers["location"] == f"http://127.0.0.1:9292/v2/images/{image['id']}"
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["owner"] == env.users["demo"].project_id
    assert image["protected"] is False and image["os_hidden"] is False
    assert (image["min_disk"], image["min_ram"], image["tags"]) == (0, 0, [])
    for unset in ("name", "disk_format", "container_format", "size", "checksum", "os_hash_value"):
        assert image[unset] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert env.show(image["id"]) == image


def test_create_with_everything(env: Env) -> None:
    image_id = str(uuid.uuid4())
    body = {
        "id": image_id,
        "name": "n" * 255,
        "visibility": "private",
        "protected": True,
        "os_hidden": True,
        "min_disk": 10,
        "min_ram": 512,
        "tags": ["b", "a", "b"],
        "os_distro": "debian",
        "owner_specified.openstack.md5": "",
        **FORMATS,
    }
    image = env.create(**body)
    assert image["id"] == image_id and image["name"] == "n" * 255
    assert image["tags"] == ["a", "b"]
    assert image["os_distro"] == "debian" and image["owner_specified.openstack.md5"] == ""
    for key in ("visibility", "protected", "os_hidden", "min_disk", "min_ram", *FORMATS):
        assert image[key] == body[key]
    assert env.show(image_id) == image


def test_duplicate_id_conflicts(env: Env) -> None:
    image = env.create()
    again = env.call("POST", "/v2/images", json={"id": image["id"]})
    assert again.status_code == 409
    assert image["id"] in again.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "n" * 256},
        {"name": 5},
        {"disk_format": "floppy"},
        {"container_format": "zip"},
        {"visibility": "everyone"},
        {"visibility": None},
        {"protected": "true"},
        {"os_hidden": 1},
        {"min_ram": "512"},
        {"min_disk": -1},
        {"min_disk": 1.5},
        {"id": "not-a-uuid"},
        {"tags": "a"},
        {"tags": ["t" * 256]},
        {"tags": [""]},
        {"os_distro": 7},
        {"k" * 256: "v"},
        [],
        "text",
    ],
)
def test_invalid_bodies_are_400(env: Env, body: Any) -> None:
    response = env.call("POST", "/v2/images", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]


def test_malformed_json_is_400(env: Env) -> None:
    response = env.call(
        "POST", "/v2/images", content=b"{name", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]["message"]


def test_wrong_content_type_is_415(env: Env) -> None:
    response = env.call("POST", "/v2/images", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


@pytest.mark.parametrize(
    "key", ["status", "size", "checksum", "created_at", "self", "file", "os_hash_value"]
)
def test_read_only_attributes_cannot_be_set(env: Env, key: str) -> None:
    response = env.call("POST", "/v2/images", json={key: "x"})
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]


@pytest.mark.parametrize("key", ["deleted", "locations", "os_glance_importing"])
def test_reserved_attributes_cannot_be_set(env: Env, key: str) -> None:
    response = env.call("POST", "/v2/images", json={key: "x"})
    assert response.status_code == 403
    assert "reserved" in response.json()["error"]["message"]


def test_only_admins_publicize(env: Env) -> None:
    refused = env.call("POST", "/v2/images", json={"visibility": "public"})
    assert refused.status_code == 403
    assert "publicize_image" in refused.json()["error"]["message"]
    assert env.create("admin", visibility="public")["visibility"] == "public"
    assert env.create(visibility="community")["visibility"] == "community"


def test_publicizing_is_a_policy_rule_an_operator_can_change(env: Env) -> None:
    assert DEFAULT_RULES["publicize_image"] is ADMIN
    env.backend.policy.rules["publicize_image"] = OWNER_MEMBER
    assert env.create(visibility="public")["visibility"] == "public"


def test_readers_cannot_create(env: Env) -> None:
    assert env.call("POST", "/v2/images", "reader", json={}).status_code == 403


def test_owner_is_the_callers_project_unless_an_admin_says_otherwise(env: Env) -> None:
    other = env.users["other"].project_id
    assert env.call("POST", "/v2/images", json={"owner": other}).status_code == 403
    assert env.create("admin", owner=other)["owner"] == other


def test_others_private_images_are_404(env: Env) -> None:
    image = env.create(visibility="private")
    for user in ("other",):
        response = env.call("GET", f"/v2/images/{image['id']}", user)
        assert response.status_code == 404
        assert image["id"] in response.json()["error"]["message"]
    assert env.show(image["id"], "admin")["id"] == image["id"]
    assert env.show(image["id"], "reader")["id"] == image["id"]


@pytest.mark.parametrize("image_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 300])
def test_unknown_ids_are_404(env: Env, image_id: str) -> None:
    assert env.call("GET", f"/v2/images/{image_id}").status_code == 404
    assert env.call("DELETE", f"/v2/images/{image_id}").status_code == 404


def test_delete(env: Env) -> None:
    image = env.create(tags=["t"], os_distro="debian", **FORMATS)
    members = f"/v2/images/{image['id']}/members"
    assert env.call("POST", members, json={"member": env.users["other"].project_id}).is_success
    assert env.upload(image["id"], b"data").status_code == 204
    assert env.backend.store.path(image["id"]).exists()
    assert env.call("DELETE", f"/v2/images/{image['id']}").status_code == 204
    assert env.call("GET", f"/v2/images/{image['id']}").status_code == 404
    assert not env.backend.store.path(image["id"]).exists()
    with env.backend.db.session() as session:
        for model in (ImageMember, ImageProperty, ImageTag):
            assert session.scalars(sa.select(model)).all() == []


def test_protected_images_cannot_be_deleted(env: Env) -> None:
    image = env.create(protected=True)
    response = env.call("DELETE", f"/v2/images/{image['id']}")
    assert response.status_code == 403 and "protected" in response.json()["error"]["message"]
    assert env.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert env.call("DELETE", f"/v2/images/{image['id']}").status_code == 204


def test_who_may_delete(env: Env) -> None:
    public = env.create("admin", visibility="public")
    assert env.call("DELETE", f"/v2/images/{public['id']}").status_code == 403
    private = env.create(visibility="private")
    assert env.call("DELETE", f"/v2/images/{private['id']}", "other").status_code == 404
    assert env.call("DELETE", f"/v2/images/{private['id']}", "reader").status_code == 403
    assert env.call("DELETE", f"/v2/images/{private['id']}", "admin").status_code == 204


def test_deactivate_and_reactivate(env: Env) -> None:
    image = env.create(**FORMATS)
    path = f"/v2/images/{image['id']}"
    queued = env.call("POST", f"{path}/actions/deactivate", "admin")
    assert queued.status_code == 403 and "queued" in queued.json()["error"]["message"]
    env.upload(image["id"], b"payload")
    assert env.call("POST", f"{path}/actions/deactivate").status_code == 403
    for _ in range(2):  # deactivating twice is harmless
        assert env.call("POST", f"{path}/actions/deactivate", "admin").status_code == 204
    assert env.show(image["id"])["status"] == "deactivated"
    assert env.call("GET", f"{path}/file").status_code == 403
    assert env.call("GET", f"{path}/file", "admin").content == b"payload"
    assert env.call("POST", f"{path}/actions/reactivate").status_code == 403
    for _ in range(2):
        assert env.call("POST", f"{path}/actions/reactivate", "admin").status_code == 204
    assert env.show(image["id"])["status"] == "active"
    assert env.call("GET", f"{path}/file").content == b"payload"


def test_actions_on_invisible_images_are_404(env: Env) -> None:
    image = env.create(visibility="private")
    response = env.call("POST", f"/v2/images/{image['id']}/actions/deactivate", "other")
    assert response.status_code == 404
