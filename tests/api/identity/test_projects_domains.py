"""/v3/projects and /v3/domains."""

from __future__ import annotations

import pytest

from stratus.identity.models import Project


def test_project_lifecycle(cloud) -> None:
    project = cloud.create(
        "projects", {"name": "p1", "description": "first", "tags": ["a"], "colour": "blue"}
    )
    assert project["domain_id"] == "default" and project["parent_id"] == "default"
    assert project["enabled"] is True and project["is_domain"] is False
    assert project["tags"] == ["a"] and project["colour"] == "blue"
    assert project["links"]["self"] == f"http://testserver/v3/projects/{project['id']}"
    path = f"/v3/projects/{project['id']}"
    assert cloud.client.get(path, headers=cloud.admin).json()["project"] == project
    update = {"project": {"name": "p1b", "enabled": False, "tags": [], "colour": "red"}}
    updated = cloud.client.patch(path, json=update, headers=cloud.admin).json()["project"]
    assert (updated["name"], updated["enabled"], updated["tags"]) == ("p1b", False, [])
    assert updated["colour"] == "red" and updated["description"] == "first"
    assert cloud.client.delete(path, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.get(path, headers=cloud.admin), 404, "Could not find project")


def test_list_projects_with_filters(cloud) -> None:
    cloud.create("projects", {"name": "off", "enabled": False})

    def names(query: str) -> list[str]:
        response = cloud.client.get(f"/v3/projects{query}", headers=cloud.admin)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["projects"]]

    assert names("") == ["admin", "demo", "off", "service"]
    assert names("?name=demo") == ["demo"]
    assert names("?enabled=false") == ["off"]
    assert names("?domain_id=default&enabled=true") == ["admin", "demo", "service"]
    assert names("?parent_id=default&name=off") == ["off"]
    assert names("?domain_id=elsewhere") == []
    assert names("?is_domain=true") == []
    listing = cloud.client.get("/v3/projects", headers=cloud.admin).json()
    assert listing["links"] == {
        "self": "http://testserver/v3/projects",
        "previous": None,
        "next": None,
    }


def test_list_projects_pages(cloud) -> None:
    first = cloud.client.get("/v3/projects?limit=2", headers=cloud.admin).json()
    assert [p["name"] for p in first["projects"]] == ["admin", "demo"]
    following = first["links"]["next"].replace("http://testserver", "")
    second = cloud.client.get(following, headers=cloud.admin).json()
    assert [p["name"] for p in second["projects"]] == ["service"]
    assert second["links"]["next"] is None


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("marker=nope", "Marker"),
        ("sort_key=secret", "Sort key"),
        ("enabled=maybe", "enabled"),
    ],
)
def test_list_projects_bad_query(cloud, query: str, fragment: str) -> None:
    cloud.error(cloud.client.get(f"/v3/projects?{query}", headers=cloud.admin), 400, fragment)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "'project.name' is required"),
        ({"name": ""}, 400, "project.name"),
        ({"name": "   "}, 400, "non-space"),
        ({"name": "x" * 65}, 400, "at most 64"),
        ({"name": 7}, 400, "project.name"),
        ({"name": "p", "enabled": "yes"}, 400, "project.enabled"),
        ({"name": "p", "tags": ["a/b"]}, 400, "'/'"),
        ({"name": "p", "tags": "a"}, 400, "project.tags"),
        ({"name": "p", "domain_id": "nowhere"}, 400, "Could not find domain"),
        ({"name": "p", "is_domain": True}, 400, "not supported"),
        ({"name": "p", "parent_id": "elsewhere", "domain_id": "default"}, 400, "hierarch"),
        ({"name": "admin"}, 409, "already exists"),
    ],
)
def test_create_project_bad_input(cloud, body: dict, status: int, fragment: str) -> None:
    response = cloud.client.post("/v3/projects", json={"project": body}, headers=cloud.admin)
    cloud.error(response, status, fragment)


def test_create_project_body_errors(cloud) -> None:
    cloud.error(cloud.client.post("/v3/projects", json={}, headers=cloud.admin), 400, "'project'")
    response = cloud.client.post(
        "/v3/projects", json={"project": {"name": "p"}, "extra": 1}, headers=cloud.admin
    )
    cloud.error(response, 400, "not an allowed field")
    response = cloud.client.post(
        "/v3/projects", content=b"[1,", headers={**cloud.admin, "Content-Type": "application/json"}
    )
    cloud.error(response, 400, "Malformed JSON")
    response = cloud.client.post(
        "/v3/projects", content=b"x", headers={**cloud.admin, "Content-Type": "text/xml"}
    )
    cloud.error(response, 415)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": None}, "cannot be null"),
        ({"enabled": None}, "cannot be null"),
        ({"domain_id": "other"}, "cannot be changed"),
        ({"parent_id": "other"}, "cannot be changed"),
        ({"name": "x" * 65}, "at most 64"),
    ],
)
def test_update_project_bad_input(cloud, body: dict, fragment: str) -> None:
    path = f"/v3/projects/{cloud.id_of(Project, 'demo')}"
    response = cloud.client.patch(path, json={"project": body}, headers=cloud.admin)
    cloud.error(response, 400, fragment)


def test_rename_project_onto_another_is_409(cloud) -> None:
    path = f"/v3/projects/{cloud.id_of(Project, 'demo')}"
    response = cloud.client.patch(path, json={"project": {"name": "admin"}}, headers=cloud.admin)
    cloud.error(response, 409)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_project_is_404(cloud, method: str) -> None:
    kwargs = {"json": {"project": {}}} if method == "patch" else {}
    response = getattr(cloud.client, method)("/v3/projects/nope", headers=cloud.admin, **kwargs)
    cloud.error(response, 404, "nope")


def test_member_sees_own_project_but_not_others(cloud) -> None:
    demo_id, admin_id = cloud.id_of(Project, "demo"), cloud.id_of(Project, "admin")
    assert cloud.client.get(f"/v3/projects/{demo_id}", headers=cloud.demo).status_code == 200
    cloud.error(cloud.client.get(f"/v3/projects/{admin_id}", headers=cloud.demo), 404)
    cloud.error(cloud.client.get("/v3/projects", headers=cloud.demo), 403, "list_projects")
    created = cloud.client.post("/v3/projects", json={"project": {"name": "x"}}, headers=cloud.demo)
    cloud.error(created, 403, "create_project")
    for method in ("patch", "delete"):
        kwargs = {"json": {"project": {}}} if method == "patch" else {}
        response = getattr(cloud.client, method)(
            f"/v3/projects/{demo_id}", headers=cloud.demo, **kwargs
        )
        cloud.error(response, 403)


def test_disabling_a_project_revokes_its_tokens(cloud) -> None:
    path = f"/v3/projects/{cloud.id_of(Project, 'demo')}"
    cloud.client.patch(path, json={"project": {"enabled": False}}, headers=cloud.admin)
    cloud.client.patch(path, json={"project": {"enabled": True}}, headers=cloud.admin)
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=cloud.demo), 401)
    assert (
        cloud.client.get(
            "/v3/auth/catalog", headers=cloud.headers("demo", "demo-secret", "demo")
        ).status_code
        == 200
    )


def test_deleting_a_project_removes_grants_and_default_project(cloud) -> None:
    project = cloud.create("projects", {"name": "doomed"})
    user_id, headers = cloud.user_with_role("inside", project="doomed")
    cloud.client.patch(
        f"/v3/users/{user_id}",
        json={"user": {"default_project_id": project["id"]}},
        headers=cloud.admin,
    )
    assert (
        cloud.client.delete(f"/v3/projects/{project['id']}", headers=cloud.admin).status_code == 204
    )
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=headers), 401)
    user = cloud.client.get(f"/v3/users/{user_id}", headers=cloud.admin).json()["user"]
    assert "default_project_id" not in user
    assignments = cloud.client.get(f"/v3/role_assignments?user.id={user_id}", headers=cloud.admin)
    assert assignments.json()["role_assignments"] == []


def test_domain_lifecycle(cloud) -> None:
    domain = cloud.create("domains", {"name": "d1", "description": "second", "tags": ["x"]})
    assert domain["enabled"] is True and domain["links"]["self"].endswith(domain["id"])
    path = f"/v3/domains/{domain['id']}"
    project = cloud.create("projects", {"name": "in-d1", "domain_id": domain["id"]})
    user = cloud.create("users", {"name": "u", "domain_id": domain["id"], "password": "pw"})
    group = cloud.create("groups", {"name": "g", "domain_id": domain["id"]})
    assert project["domain_id"] == user["domain_id"] == group["domain_id"] == domain["id"]
    cloud.error(cloud.client.delete(path, headers=cloud.admin), 403, "disable it first")
    response = cloud.client.patch(path, json={"domain": {"enabled": False}}, headers=cloud.admin)
    assert response.json()["domain"]["enabled"] is False
    assert cloud.client.delete(path, headers=cloud.admin).status_code == 204
    for kind, ident in (
        ("projects", project["id"]),
        ("users", user["id"]),
        ("groups", group["id"]),
    ):
        cloud.error(cloud.client.get(f"/v3/{kind}/{ident}", headers=cloud.admin), 404)


def test_list_and_show_domains(cloud) -> None:
    cloud.create("domains", {"name": "other", "enabled": False})
    names = [
        d["name"] for d in cloud.client.get("/v3/domains", headers=cloud.admin).json()["domains"]
    ]
    assert names == ["Default", "other"]
    enabled = cloud.client.get("/v3/domains?enabled=true", headers=cloud.admin).json()["domains"]
    assert [d["name"] for d in enabled] == ["Default"]
    by_name = cloud.client.get("/v3/domains?name=other", headers=cloud.admin).json()["domains"]
    assert [d["name"] for d in by_name] == ["other"]


def test_member_sees_own_domain_only(cloud) -> None:
    other = cloud.create("domains", {"name": "other"})
    assert cloud.client.get("/v3/domains/default", headers=cloud.demo).status_code == 200
    cloud.error(cloud.client.get(f"/v3/domains/{other['id']}", headers=cloud.demo), 404)
    cloud.error(cloud.client.get("/v3/domains", headers=cloud.demo), 403)
    created = cloud.client.post("/v3/domains", json={"domain": {"name": "x"}}, headers=cloud.demo)
    cloud.error(created, 403)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "'domain.name' is required"),
        ({"name": "x" * 65}, 400, "at most 64"),
        ({"name": "d", "enabled": 1}, 400, "domain.enabled"),
        ({"name": "Default"}, 409, "already exists"),
    ],
)
def test_create_domain_bad_input(cloud, body: dict, status: int, fragment: str) -> None:
    response = cloud.client.post("/v3/domains", json={"domain": body}, headers=cloud.admin)
    cloud.error(response, status, fragment)


def test_unknown_domain_is_404(cloud) -> None:
    for method in ("get", "delete"):
        response = getattr(cloud.client, method)("/v3/domains/nope", headers=cloud.admin)
        cloud.error(response, 404, "Could not find domain")


def test_disabling_a_domain_locks_its_users_out(cloud) -> None:
    domain = cloud.create("domains", {"name": "d2"})
    cloud.create("users", {"name": "u2", "domain_id": domain["id"], "password": "pw"})
    body = cloud.password_auth("u2", "pw", domain=domain["id"])
    assert cloud.client.post("/v3/auth/tokens", json=body).status_code == 201
    cloud.client.patch(
        f"/v3/domains/{domain['id']}", json={"domain": {"enabled": False}}, headers=cloud.admin
    )
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401)


def test_a_conflicting_rename_while_disabling_is_409(cloud) -> None:
    path = f"/v3/projects/{cloud.id_of(Project, 'demo')}"
    body = {"project": {"name": "admin", "enabled": False}}
    cloud.error(cloud.client.patch(path, json=body, headers=cloud.admin), 409)
    assert cloud.client.get("/v3/auth/catalog", headers=cloud.demo).status_code == 200
