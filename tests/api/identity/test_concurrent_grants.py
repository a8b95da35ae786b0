"""Idempotent PUTs racing each other: every one succeeds and one row results."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stratus.identity.models import Role


def test_racing_grants_and_memberships_all_succeed(cloud: Any) -> None:
    project = cloud.create("projects", {"name": "race-p"})
    user = cloud.create("users", {"name": "race-u"})
    group = cloud.create("groups", {"name": "race-g"})
    role_id = cloud.id_of(Role, "member")
    paths = [
        f"/v3/projects/{project['id']}/users/{user['id']}/roles/{role_id}",
        f"/v3/groups/{group['id']}/users/{user['id']}",
    ]
    for path in paths:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda p: cloud.client.put(p, headers=cloud.admin), [path] * 16))
        assert [c.status_code for c in codes] == [204] * 16, (path, [c.text for c in codes])
    query = {"user.id": user["id"], "scope.project.id": project["id"]}
    listed = cloud.client.get("/v3/role_assignments", params=query, headers=cloud.admin)
    assert len(listed.json()["role_assignments"]) == 1
    members = cloud.client.get(f"/v3/groups/{group['id']}/users", headers=cloud.admin)
    assert [u["id"] for u in members.json()["users"]] == [user["id"]]
