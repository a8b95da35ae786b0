"""Sharing images with other projects through image members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Env


@pytest.fixture
def shared(env: Env) -> dict[str, Any]:
    return env.create(name="shared-img", visibility="shared")


def members_path(image: dict[str, Any], member: str = "") -> str:
    return f"/v2/images/{image['id']}/members" + (f"/{member}" if member else "")


def add(env: Env, image: dict[str, Any], project: str, user: str = "demo") -> Any:
    return env.call("POST", members_path(image), user, json={"member": project})


def set_status(env: Env, image: dict[str, Any], status: str, user: str = "other") -> Any:
    project = env.users[user].project_id
    return env.call("PUT", members_path(image, project), user, json={"status": status})


def test_sharing_workflow(env: Env, shared: dict[str, Any]) -> None:
    other = env.users["other"].project_id
    assert env.call("GET", f"/v2/images/{shared['id']}", "other").status_code == 404

    response = add(env, shared, other)
    assert response.status_code == 200
    member = response.json()
    assert member["image_id"] == shared["id"] and member["member_id"] == other
    assert member["status"] == "pending" and member["schema"] == "/v2/schemas/member"
    assert member["created_at"] and member["updated_at"]

    # A member can use the image at once, but it only lists it once accepted.
    assert env.show(shared["id"], "other")["id"] == shared["id"]
    assert "shared-img" not in env.names("other")
    assert "shared-img" in env.names("other", member_status="pending")
    assert "shared-img" in env.names("other", visibility="shared", member_status="all")

    accepted = set_status(env, shared, "accepted")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert "shared-img" in env.names("other")
    assert "shared-img" in env.names("other", visibility="shared")

    assert set_status(env, shared, "rejected").json()["status"] == "rejected"
    assert "shared-img" not in env.names("other")
    assert "shared-img" in env.names("other", member_status="rejected")

    assert env.call("DELETE", members_path(shared, other)).status_code == 204
    assert env.call("GET", f"/v2/images/{shared['id']}", "other").status_code == 404
    assert "shared-img" not in env.names("other", member_status="all")


def test_shared_data_is_readable_by_members(env: Env) -> None:
    image = env.create(visibility="shared", disk_format="raw", container_format="bare")
    env.upload(image["id"], b"shared data")
    assert env.call("GET", f"/v2/images/{image['id']}/file", "other").status_code == 404
    add(env, image, env.users["other"].project_id)
    assert env.call("GET", f"/v2/images/{image['id']}/file", "other").content == b"shared data"


def test_members_list_and_show(env: Env, shared: dict[str, Any]) -> None:
    other, admin = env.users["other"].project_id, env.users["admin"].project_id
    add(env, shared, other)
    add(env, shared, admin)
    listing = env.call("GET", members_path(shared)).json()
    assert listing["schema"] == "/v2/schemas/members"
    assert {m["member_id"] for m in listing["members"]} == {other, admin}
    seen_by_member = env.call("GET", members_path(shared), "other").json()["members"]
    assert [m["member_id"] for m in seen_by_member] == [other]
    assert env.call("GET", members_path(shared, other)).json()["member_id"] == other
    assert env.call("GET", members_path(shared, other), "other").status_code == 200
    assert env.call("GET", members_path(shared, admin), "other").status_code == 404
    assert env.call("GET", members_path(shared, "nobody")).status_code == 404
    assert len(env.call("GET", members_path(shared), "admin").json()["members"]) == 2


def test_duplicate_member_conflicts(env: Env, shared: dict[str, Any]) -> None:
    other = env.users["other"].project_id
    assert add(env, shared, other).status_code == 200
    assert add(env, shared, other).status_code == 409


@pytest.mark.parametrize("body", [{}, {"member": ""}, {"member": 5}, {"member": "x" * 256}, []])
def test_bad_member_bodies_are_400(env: Env, shared: dict[str, Any], body: Any) -> None:
    assert env.call("POST", members_path(shared), json=body).status_code == 400


@pytest.mark.parametrize("body", [{}, {"status": "maybe"}, {"status": None}, ["accepted"]])
def test_bad_status_bodies_are_400(env: Env, shared: dict[str, Any], body: Any) -> None:
    other = env.users["other"].project_id
    add(env, shared, other)
    response = env.call("PUT", members_path(shared, other), "other", json=body)
    assert response.status_code == 400


def test_member_bodies_may_carry_more_than_is_used(env: Env, shared: dict[str, Any]) -> None:
    """openstacksdk sends the member id along with the new status."""
    other = env.users["other"].project_id
    assert env.call("POST", members_path(shared), json={"member": other, "x": 1}).status_code == 200
    body = {"member": other, "status": "accepted"}
    response = env.call("PUT", members_path(shared, other), "other", json=body)
    assert response.status_code == 200 and response.json()["status"] == "accepted"


def test_only_shared_images_have_members(env: Env) -> None:
    other = env.users["other"].project_id
    for visibility in ("private", "community"):
        image = env.create(visibility=visibility)
        response = add(env, image, other)
        assert response.status_code == 403
        assert "shared" in response.json()["error"]["message"]
        assert env.call("GET", members_path(image)).status_code == 403


def test_who_may_do_what(env: Env, shared: dict[str, Any]) -> None:
    other = env.users["other"].project_id
    assert add(env, shared, other, "other").status_code == 404  # not visible to other yet
    assert add(env, shared, other, "reader").status_code == 403
    add(env, shared, other)
    assert add(env, shared, "third", "other").status_code == 403  # members don't share on
    assert set_status(env, shared, "accepted", "demo").status_code == 404  # not a member
    owner_try = env.call("PUT", members_path(shared, other), json={"status": "accepted"})
    assert owner_try.status_code == 403  # only the member decides
    admin_try = env.call("PUT", members_path(shared, other), "admin", json={"status": "accepted"})
    assert admin_try.status_code == 200
    assert env.call("DELETE", members_path(shared, other), "other").status_code == 403
    assert env.call("DELETE", members_path(shared, "nobody")).status_code == 404
    assert env.call("DELETE", members_path(shared, other), "admin").status_code == 204
