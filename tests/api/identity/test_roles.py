"""/v3/roles, grants on projects and domains, and /v3/role_assignments."""

from __future__ import annotations

import pytest

from stratus.identity.models import Project, Role, User


def test_role_lifecycle(cloud) -> None:
    role = cloud.create("roles", {"name": "auditor", "description": "reads logs"})
    assert role["domain_id"] is None and role["links"]["self"].endswith(role["id"])
    path = f"/v3/roles/{role['id']}"
    assert cloud.client.get(path, headers=cloud.admin).json()["role"] == role
    found = cloud.client.get("/v3/roles?name=auditor", headers=cloud.admin).json()["roles"]
    assert [r["id"] for r in found] == [role["id"]]
    renamed = cloud.client.patch(path, json={"role": {"name": "auditor2"}}, headers=cloud.admin)
    assert renamed.json()["role"]["name"] == "auditor2"
    assert cloud.client.delete(path, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.get(path, headers=cloud.admin), 404, "Could not find role")


def test_list_roles(cloud) -> None:
    roles = cloud.client.get("/v3/roles", headers=cloud.admin).json()["roles"]
    assert [r["name"] for r in roles] == ["admin", "member", "reader", "service"]
    assert (
        cloud.client.get("/v3/roles?domain_id=default", headers=cloud.admin).json()["roles"] == []
    )


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "'role.name' is required"),
        ({"name": "r" * 256}, 400, "at most 255"),
        ({"name": "r", "domain_id": "default"}, 400, "Domain-specific"),
        ({"name": "r", "options": {"immutable": True}}, 400, "options"),
        ({"name": "member"}, 409, "already exists"),
    ],
)
def test_create_role_bad_input(cloud, body: dict, status: int, fragment: str) -> None:
    response = cloud.client.post("/v3/roles", json={"role": body}, headers=cloud.admin)
    cloud.error(response, status, fragment)


def test_roles_are_for_admins(cloud) -> None:
    role_id = cloud.id_of(Role, "member")
    cloud.error(cloud.client.get("/v3/roles", headers=cloud.demo), 403, "list_roles")
    cloud.error(cloud.client.get(f"/v3/roles/{role_id}", headers=cloud.demo), 403)
    cloud.error(
        cloud.client.post("/v3/roles", json={"role": {"name": "x"}}, headers=cloud.demo), 403
    )
    cloud.error(cloud.client.delete(f"/v3/roles/{role_id}", headers=cloud.demo), 403)


GRANTS = [
    ("projects", "users"),
    ("projects", "groups"),
    ("domains", "users"),
    ("domains", "groups"),
]


@pytest.mark.parametrize(("targets", "actors"), GRANTS)
def test_grant_check_list_revoke(cloud, targets: str, actors: str) -> None:
    target = cloud.create(targets, {"name": f"t-{actors}"})
    actor = cloud.create(actors, {"name": f"a-{targets}"})
    role_id = cloud.id_of(Role, "reader")
    base = f"/v3/{targets}/{target['id']}/{actors}/{actor['id']}/roles"
    grant = f"{base}/{role_id}"
    assert cloud.client.head(grant, headers=cloud.admin).status_code == 404
    assert cloud.client.put(grant, headers=cloud.admin).status_code == 204
    assert cloud.client.put(grant, headers=cloud.admin).status_code == 204
    assert cloud.client.head(grant, headers=cloud.admin).status_code == 204
    assert cloud.client.get(grant, headers=cloud.admin).status_code == 204
    listed = cloud.client.get(base, headers=cloud.admin).json()
    assert [r["name"] for r in listed["roles"]] == ["reader"]
    assert listed["links"]["self"].endswith(base)
    assert cloud.client.delete(grant, headers=cloud.admin).status_code == 204
    cloud.error(cloud.client.delete(grant, headers=cloud.admin), 404, "role assignment")
    assert cloud.client.get(base, headers=cloud.admin).json()["roles"] == []


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/v3/projects/nope/users/{user}/roles/{role}", "project"),
        ("/v3/projects/{project}/users/nope/roles/{role}", "user"),
        ("/v3/projects/{project}/users/{user}/roles/nope", "role"),
        ("/v3/domains/nope/groups/nope/roles/{role}", "domain"),
    ],
)
def test_grant_with_unknown_parts_is_404(cloud, path: str, fragment: str) -> None:
    path = path.format(
        project=cloud.id_of(Project, "demo"),
        user=cloud.id_of(User, "demo"),
        role=cloud.id_of(Role, "reader"),
    )
    cloud.error(cloud.client.put(path, headers=cloud.admin), 404, fragment)


def test_grants_are_for_admins(cloud) -> None:
    path = (
        f"/v3/projects/{cloud.id_of(Project, 'demo')}/users/{cloud.id_of(User, 'demo')}"
        f"/roles/{cloud.id_of(Role, 'admin')}"
    )
    cloud.error(cloud.client.put(path, headers=cloud.demo), 403, "create_grant")
    assert cloud.client.head(path, headers=cloud.demo).status_code == 403
    cloud.error(cloud.client.delete(path, headers=cloud.demo), 403)


def test_deleting_a_role_removes_its_grants(cloud) -> None:
    role = cloud.create("roles", {"name": "temp"})
    project, user = cloud.id_of(Project, "demo"), cloud.id_of(User, "demo")
    cloud.client.put(f"/v3/projects/{project}/users/{user}/roles/{role['id']}", headers=cloud.admin)
    cloud.client.delete(f"/v3/roles/{role['id']}", headers=cloud.admin)
    found = cloud.client.get(f"/v3/role_assignments?role.id={role['id']}", headers=cloud.admin)
    assert found.json()["role_assignments"] == []


def _assignments(cloud, query: str = "", headers: dict | None = None) -> list[dict]:
    response = cloud.client.get(f"/v3/role_assignments{query}", headers=headers or cloud.admin)
    assert response.status_code == 200, response.text
    return response.json()["role_assignments"]


def test_role_assignments_by_filter(cloud) -> None:
    demo_user, demo_project = cloud.id_of(User, "demo"), cloud.id_of(Project, "demo")
    member = cloud.id_of(Role, "member")
    everything = _assignments(cloud)
    assert len(everything) == 5  # admin (project, domain), demo, glance (admin, service)
    (only,) = _assignments(cloud, f"?user.id={demo_user}")
    assert only == {
        "role": {"id": member},
        "scope": {"project": {"id": demo_project}},
        "user": {"id": demo_user},
        "links": {
            "assignment": f"http://testserver/v3/projects/{demo_project}/users/{demo_user}"
            f"/roles/{member}"
        },
    }
    assert _assignments(cloud, f"?scope.project.id={demo_project}&role.id={member}") == [only]
    domain = _assignments(cloud, "?scope.domain.id=default")
    assert [(a["user"]["id"], a["scope"]) for a in domain] == [
        (cloud.id_of(User, "admin"), {"domain": {"id": "default"}})
    ]
    assert _assignments(cloud, "?scope.system=all") == []


def test_role_assignments_with_names(cloud) -> None:
    (named,) = _assignments(cloud, f"?user.id={cloud.id_of(User, 'demo')}&include_names")
    assert named["role"] == {"id": cloud.id_of(Role, "member"), "name": "member"}
    assert named["user"]["name"] == "demo"
    assert named["user"]["domain"] == {"id": "default", "name": "Default"}
    assert named["scope"]["project"]["name"] == "demo"
    (domain,) = _assignments(cloud, "?scope.domain.id=default&include_names=1")
    assert domain["scope"]["domain"] == {"id": "default", "name": "Default"}


def test_effective_role_assignments_expand_groups(cloud) -> None:
    group = cloud.create("groups", {"name": "g"})
    user_id, _ = cloud.user_with_role("eff", role="reader")
    project, admin_role = cloud.id_of(Project, "demo"), cloud.id_of(Role, "admin")
    cloud.client.put(f"/v3/groups/{group['id']}/users/{user_id}", headers=cloud.admin)
    cloud.client.put(
        f"/v3/projects/{project}/groups/{group['id']}/roles/{admin_role}", headers=cloud.admin
    )
    direct = _assignments(cloud, f"?user.id={user_id}")
    assert [a["role"]["id"] for a in direct] == [cloud.id_of(Role, "reader")]
    effective = _assignments(cloud, f"?user.id={user_id}&effective")
    names = sorted(
        a["role"]["name"]
        for a in _assignments(cloud, f"?user.id={user_id}&effective&include_names")
    )
    assert names == ["admin", "member", "reader", "reader"]  # member, reader implied by admin
    implied = [a for a in effective if "prior_role" in a["links"]]
    assert {a["links"]["prior_role"] for a in implied} == {
        f"http://testserver/v3/roles/{admin_role}"
    }
    member = cloud.id_of(Role, "member")
    (only,) = _assignments(cloud, f"?user.id={user_id}&effective&role.id={member}")
    assert only["links"]["prior_role"].endswith(admin_role)
    (through_group,) = [
        a for a in effective if "membership" in a["links"] and "prior_role" not in a["links"]
    ]
    assert through_group["user"] == {"id": user_id} and "group" not in through_group
    assert through_group["links"]["membership"].endswith(f"/groups/{group['id']}/users/{user_id}")
    by_group = _assignments(cloud, f"?group.id={group['id']}")
    assert [a["group"]["id"] for a in by_group] == [group["id"]]
    everyone = _assignments(cloud, f"?scope.project.id={project}&effective")
    assert all("group" not in a for a in everyone)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("?user.id=a&group.id=b", "not both"),
        ("?scope.project.id=a&scope.domain.id=b", "not both"),
        ("?group.id=b&effective", "effective"),
        ("?effective=perhaps", "effective"),
    ],
)
def test_role_assignments_bad_filters(cloud, query: str, fragment: str) -> None:
    cloud.error(
        cloud.client.get(f"/v3/role_assignments{query}", headers=cloud.admin), 400, fragment
    )


def test_member_lists_only_own_role_assignments(cloud) -> None:
    demo_user = cloud.id_of(User, "demo")
    assert len(_assignments(cloud, f"?user.id={demo_user}", headers=cloud.demo)) == 1
    cloud.error(cloud.client.get("/v3/role_assignments", headers=cloud.demo), 403)
    admin_user = cloud.id_of(User, "admin")
    cloud.error(
        cloud.client.get(f"/v3/role_assignments?user.id={admin_user}", headers=cloud.demo), 403
    )
