"""/v3/users (with password, projects and groups) and /v3/groups (with members)."""

from __future__ import annotations

import pytest

from stratus.identity.models import Project, User


def test_user_lifecycle(cloud) -> None:
    demo = cloud.id_of(Project, "demo")
    user = cloud.create(
        "users",
        {"name": "u1", "password": "pw", "default_project_id": demo, "email": "u1@example.org"},
    )
    assert "password" not in user and "password_hash" not in user
    assert user["default_project_id"] == demo and user["email"] == "u1@example.org"
    assert user["domain_id"] == "default" and user["password_expires_at"] is None
    path = f"/v3/users/{user['id']}"
    assert cloud.client.get(path, headers=cloud.admin).json()["user"] == user
    updated = cloud.client.patch(
        path, json={"user": {"name": "u1b", "description": "renamed"}}, headers=cloud.admin
    ).json()["user"]
    assert updated["name"] == "u1b" and updated["description"] == "renamed"
    assert updated["email"] == "u1@example.org"
    assert cloud.client.delete(path, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.get(path, headers=cloud.admin), 404, "Could not find user")


def test_list_users_with_filters(cloud) -> None:
    cloud.create("users", {"name": "off", "enabled": False})

    def names(query: str) -> list[str]:
        return [
            u["name"]
            for u in cloud.client.get(f"/v3/users{query}", headers=cloud.admin).json()["users"]
        ]

    assert names("") == ["admin", "demo", "glance", "off"]
    assert names("?name=demo") == ["demo"]
    assert names("?enabled=false") == ["off"]
    assert names("?domain_id=default&limit=1") == ["admin"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "'user.name' is required"),
        ({"name": "x" * 256}, 400, "at most 255"),
        ({"name": "u", "password": 5}, 400, "user.password"),
        ({"name": "u", "password": "x" * 4097}, 400, "user.password"),
        ({"name": "u", "enabled": "true"}, 400, "user.enabled"),
        ({"name": "u", "domain_id": "nowhere"}, 400, "Could not find domain"),
        ({"name": "u", "default_project_id": "nowhere"}, 400, "default_project_id"),
        ({"name": "u", "options": {"lock_password": True}}, 400, "options"),
        ({"name": "demo"}, 409, "already exists"),
    ],
)
def test_create_user_bad_input(cloud, body: dict, status: int, fragment: str) -> None:
    response = cloud.client.post("/v3/users", json={"user": body}, headers=cloud.admin)
    cloud.error(response, status, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": None}, "cannot be null"),
        ({"enabled": None}, "cannot be null"),
        ({"domain_id": "other"}, "cannot be changed"),
        ({"default_project_id": "nowhere"}, "default_project_id"),
    ],
)
def test_update_user_bad_input(cloud, body: dict, fragment: str) -> None:
    path = f"/v3/users/{cloud.id_of(User, 'demo')}"
    cloud.error(cloud.client.patch(path, json={"user": body}, headers=cloud.admin), 400, fragment)


def test_admin_password_reset_and_disable_revoke_tokens(cloud) -> None:
    user_id, headers = cloud.user_with_role("reset")
    path = f"/v3/users/{user_id}"
    cloud.client.patch(path, json={"user": {"password": "other"}}, headers=cloud.admin)
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=headers), 401)
    headers = cloud.headers("reset", "other", "demo")
    cloud.client.patch(path, json={"user": {"enabled": False}}, headers=cloud.admin)
    cloud.client.patch(path, json={"user": {"enabled": True}}, headers=cloud.admin)
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=headers), 401)


def test_deleting_a_user_revokes_its_tokens(cloud) -> None:
    user_id, headers = cloud.user_with_role("gone")
    cloud.client.delete(f"/v3/users/{user_id}", headers=cloud.admin)
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=headers), 401)


def test_non_admin_sees_only_itself(cloud) -> None:
    demo_id, admin_id = cloud.id_of(User, "demo"), cloud.id_of(User, "admin")
    assert (
        cloud.client.get(f"/v3/users/{demo_id}", headers=cloud.demo).json()["user"]["name"]
        == "demo"
    )
    cloud.error(cloud.client.get(f"/v3/users/{admin_id}", headers=cloud.demo), 404)
    cloud.error(cloud.client.get("/v3/users", headers=cloud.demo), 403, "list_users")
    cloud.error(
        cloud.client.post("/v3/users", json={"user": {"name": "x"}}, headers=cloud.demo), 403
    )
    cloud.error(
        cloud.client.patch(f"/v3/users/{demo_id}", json={"user": {}}, headers=cloud.demo), 403
    )
    cloud.error(cloud.client.delete(f"/v3/users/{demo_id}", headers=cloud.demo), 403)


def test_change_own_password(cloud) -> None:
    demo_id = cloud.id_of(User, "demo")
    path = f"/v3/users/{demo_id}/password"
    wrong = {"user": {"password": "new", "original_password": "wrong"}}
    cloud.error(cloud.client.post(path, json=wrong, headers=cloud.demo), 401, "original password")
    right = {"user": {"password": "new", "original_password": "demo-secret"}}
    assert cloud.client.post(path, json=right, headers=cloud.demo).status_code == 204
    cloud.error(
        cloud.client.post(
            "/v3/auth/tokens", json=cloud.password_auth("demo", "demo-secret", "demo")
        ),
        401,
    )
    assert cloud.token("demo", "new", "demo")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"user": {"password": "new"}}, "original_password"),
        ({"user": {"original_password": "x"}}, "user.password"),
        ({"user": {"password": "n", "original_password": "o", "x": 1}}, "not an allowed"),
        ({"password": "new"}, "not an allowed"),
    ],
)
def test_change_password_bad_input(cloud, body: dict, fragment: str) -> None:
    path = f"/v3/users/{cloud.id_of(User, 'demo')}/password"
    cloud.error(cloud.client.post(path, json=body, headers=cloud.demo), 400, fragment)


def test_cannot_change_someone_elses_password(cloud) -> None:
    path = f"/v3/users/{cloud.id_of(User, 'admin')}/password"
    body = {"user": {"password": "new", "original_password": "admin-secret"}}
    cloud.error(cloud.client.post(path, json=body, headers=cloud.demo), 404)


def test_user_projects(cloud) -> None:
    demo_id = cloud.id_of(User, "demo")
    own = cloud.client.get(f"/v3/users/{demo_id}/projects", headers=cloud.demo).json()
    assert [p["name"] for p in own["projects"]] == ["demo"]
    admin_projects = cloud.client.get(
        f"/v3/users/{cloud.id_of(User, 'admin')}/projects", headers=cloud.admin
    ).json()["projects"]
    assert [p["name"] for p in admin_projects] == ["admin"]
    cloud.error(
        cloud.client.get(f"/v3/users/{cloud.id_of(User, 'admin')}/projects", headers=cloud.demo),
        404,
    )
    cloud.error(cloud.client.get("/v3/users/nope/projects", headers=cloud.admin), 404)


def test_group_lifecycle_and_membership(cloud) -> None:
    group = cloud.create("groups", {"name": "ops", "description": "operators"})
    assert group["domain_id"] == "default" and group["links"]["self"].endswith(group["id"])
    path = f"/v3/groups/{group['id']}"
    demo_id = cloud.id_of(User, "demo")
    member = f"{path}/users/{demo_id}"
    assert cloud.client.head(member, headers=cloud.admin).status_code == 404
    assert cloud.client.put(member, headers=cloud.admin).status_code == 204
    assert cloud.client.put(member, headers=cloud.admin).status_code == 204  # idempotent
    assert cloud.client.head(member, headers=cloud.admin).status_code == 204
    users = cloud.client.get(f"{path}/users", headers=cloud.admin).json()["users"]
    assert [u["name"] for u in users] == ["demo"]
    groups = cloud.client.get(f"/v3/users/{demo_id}/groups", headers=cloud.demo).json()["groups"]
    assert [g["name"] for g in groups] == ["ops"]
    renamed = cloud.client.patch(path, json={"group": {"name": "ops2"}}, headers=cloud.admin)
    assert renamed.json()["group"]["name"] == "ops2"
    listed = cloud.client.get("/v3/groups?name=ops2", headers=cloud.admin).json()["groups"]
    assert [g["id"] for g in listed] == [group["id"]]
    assert cloud.client.delete(member, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.delete(member, headers=cloud.admin), 404, "not a member")
    assert cloud.client.delete(path, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.get(path, headers=cloud.admin), 404, "Could not find group")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "'group.name' is required"),
        ({"name": "g" * 65}, 400, "at most 64"),
        ({"name": "g", "domain_id": "nowhere"}, 400, "Could not find domain"),
        ({"name": "g", "description": 3}, 400, "group.description"),
    ],
)
def test_create_group_bad_input(cloud, body: dict, status: int, fragment: str) -> None:
    response = cloud.client.post("/v3/groups", json={"group": body}, headers=cloud.admin)
    cloud.error(response, status, fragment)


def test_duplicate_group_is_409(cloud) -> None:
    cloud.create("groups", {"name": "twice"})
    response = cloud.client.post(
        "/v3/groups", json={"group": {"name": "twice"}}, headers=cloud.admin
    )
    cloud.error(response, 409)


def test_membership_of_unknown_user_or_group_is_404(cloud) -> None:
    group = cloud.create("groups", {"name": "g"})
    cloud.error(
        cloud.client.put(f"/v3/groups/{group['id']}/users/nope", headers=cloud.admin), 404, "user"
    )
    demo_id = cloud.id_of(User, "demo")
    cloud.error(
        cloud.client.put(f"/v3/groups/nope/users/{demo_id}", headers=cloud.admin), 404, "group"
    )


def test_groups_are_for_admins(cloud) -> None:
    group = cloud.create("groups", {"name": "g"})
    demo_id = cloud.id_of(User, "demo")
    for method, path in (
        ("get", "/v3/groups"),
        ("get", f"/v3/groups/{group['id']}"),
        ("get", f"/v3/groups/{group['id']}/users"),
        ("put", f"/v3/groups/{group['id']}/users/{demo_id}"),
        ("head", f"/v3/groups/{group['id']}/users/{demo_id}"),
        ("delete", f"/v3/groups/{group['id']}"),
    ):
        assert getattr(cloud.client, method)(path, headers=cloud.demo).status_code == 403
    cloud.error(
        cloud.client.get(f"/v3/users/{cloud.id_of(User, 'admin')}/groups", headers=cloud.demo), 404
    )


def test_a_conflicting_rename_with_a_new_password_is_409(cloud) -> None:
    path = f"/v3/users/{cloud.id_of(User, 'demo')}"
    body = {"user": {"name": "admin", "password": "x"}}
    cloud.error(cloud.client.patch(path, json=body, headers=cloud.admin), 409)
    assert cloud.client.get("/v3/auth/catalog", headers=cloud.demo).status_code == 200
