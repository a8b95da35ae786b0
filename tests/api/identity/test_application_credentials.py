"""/v3/users/{id}/application_credentials, and authenticating with them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from stratus.identity.models import ApplicationCredential, Project, User
from stratus.runtime.db import utcnow


def _path(cloud, user: str = "demo") -> str:
    return f"/v3/users/{cloud.id_of(User, user)}/application_credentials"


def _create(cloud, body: dict, headers: dict | None = None, user: str = "demo"):  # type: ignore[no-untyped-def]
    return cloud.client.post(
        _path(cloud, user), json={"application_credential": body}, headers=headers or cloud.demo
    )


def _auth(credential_id: str, secret: str) -> dict:
    return {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": credential_id, "secret": secret},
            }
        }
    }


def test_create_with_generated_secret_and_authenticate(cloud) -> None:
    response = _create(cloud, {"name": "ac1", "description": "ci"})
    assert response.status_code == 201, response.text
    credential = response.json()["application_credential"]
    assert len(credential["secret"]) >= 64
    assert credential["project_id"] == cloud.id_of(Project, "demo")
    assert [r["name"] for r in credential["roles"]] == ["member", "reader"]
    assert credential["unrestricted"] is False and credential["expires_at"] is None
    assert credential["links"]["self"].endswith(f"/application_credentials/{credential['id']}")
    shown = cloud.client.get(f"{_path(cloud)}/{credential['id']}", headers=cloud.demo).json()
    assert "secret" not in shown["application_credential"]
    with cloud.runtime.database("identity").session() as session:
        stored = session.scalar(sa.select(ApplicationCredential.secret_hash))
    assert stored.startswith("scrypt$") and credential["secret"] not in stored

    issued = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token["methods"] == ["application_credential"]
    assert token["application_credential"] == {
        "id": credential["id"],
        "name": "ac1",
        "restricted": True,
    }
    assert token["project"]["name"] == "demo"
    assert [r["name"] for r in token["roles"]] == ["member", "reader"]


def test_authenticate_by_name_and_user(cloud) -> None:
    secret = "my-own-secret"
    _create(cloud, {"name": "named", "secret": secret})
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {
                    "name": "named",
                    "secret": secret,
                    "user": {"name": "demo", "domain": {"name": "Default"}},
                },
            }
        }
    }
    assert cloud.client.post("/v3/auth/tokens", json=body).status_code == 201
    body["auth"]["identity"]["application_credential"]["secret"] = "wrong"
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401)
    del body["auth"]["identity"]["application_credential"]["user"]
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 400, "needs its user")


def test_roles_subset_and_limits(cloud) -> None:
    only_reader = _create(cloud, {"name": "ro", "roles": [{"name": "reader"}]})
    assert [r["name"] for r in only_reader.json()["application_credential"]["roles"]] == ["reader"]
    credential = only_reader.json()["application_credential"]
    token = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    ).json()["token"]
    assert [r["name"] for r in token["roles"]] == ["reader"]
    cloud.error(_create(cloud, {"name": "up", "roles": [{"name": "admin"}]}), 400, "not one of")
    cloud.error(_create(cloud, {"name": "up", "roles": [{"id": "nope"}]}), 400, "not one of")


def test_expiry(cloud) -> None:
    later = (utcnow() + timedelta(minutes=30)).isoformat() + "Z"
    credential = _create(cloud, {"name": "short", "expires_at": later}).json()[
        "application_credential"
    ]
    assert credential["expires_at"].startswith(later[:16])
    token = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    ).json()["token"]
    assert token["expires_at"] <= credential["expires_at"]
    with cloud.runtime.database("identity").session() as session:
        session.get(ApplicationCredential, credential["id"]).expires_at = utcnow() - timedelta(
            seconds=1
        )
    response = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    )
    cloud.error(response, 401, "expired")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "'application_credential.name' is required"),
        ({"name": "x" * 256}, "at most 255"),
        ({"name": "x", "unknown": 1}, "not an allowed field"),
        ({"name": "x", "unrestricted": "yes"}, "unrestricted"),
        ({"name": "x", "expires_at": "tomorrow"}, "ISO 8601"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "future"),
        ({"name": "x", "roles": [{}]}, "id or a name"),
        ({"name": "x", "roles": "member"}, "roles"),
        ({"name": "x", "access_rules": [{"path": "/v2.1/servers"}]}, "Access rules"),
        ({"name": "x", "secret": ""}, "secret"),
    ],
)
def test_create_bad_input(cloud, body: dict, fragment: str) -> None:
    cloud.error(_create(cloud, body), 400, fragment)


def test_create_accepts_client_nulls(cloud) -> None:
    """What openstackclient sends when no option is given."""
    body = {
        "name": "nulls",
        "secret": None,
        "description": None,
        "expires_at": None,
        "roles": [],
        "unrestricted": False,
        "access_rules": [],
    }
    assert _create(cloud, body).status_code == 201


def test_duplicate_name_is_409(cloud) -> None:
    _create(cloud, {"name": "twice"})
    cloud.error(_create(cloud, {"name": "twice"}), 409)


def test_list_show_delete_and_tokens_stop(cloud) -> None:
    credential = _create(cloud, {"name": "one"}).json()["application_credential"]
    _create(cloud, {"name": "two"})
    listed = cloud.client.get(_path(cloud), headers=cloud.demo).json()["application_credentials"]
    assert [c["name"] for c in listed] == ["one", "two"]
    by_name = cloud.client.get(f"{_path(cloud)}?name=two", headers=cloud.demo).json()
    assert [c["name"] for c in by_name["application_credentials"]] == ["two"]
    token = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    ).headers["X-Subject-Token"]
    path = f"{_path(cloud)}/{credential['id']}"
    assert cloud.client.delete(path, headers=cloud.demo).status_code == 204
    cloud.error(cloud.client.get(path, headers=cloud.demo), 404, "application credential")
    cloud.error(cloud.client.get("/v3/auth/catalog", headers={"X-Auth-Token": token}), 401)
    response = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    )
    cloud.error(response, 401)


def test_others_credentials_are_invisible(cloud) -> None:
    credential = _create(cloud, {"name": "mine"}).json()["application_credential"]
    other_id, other = cloud.user_with_role("other")
    path = _path(cloud)
    cloud.error(cloud.client.get(path, headers=other), 404, "user")
    cloud.error(cloud.client.get(f"{path}/{credential['id']}", headers=other), 404)
    cloud.error(cloud.client.delete(f"{path}/{credential['id']}", headers=other), 404)
    cloud.error(_create(cloud, {"name": "x"}, headers=other), 404)
    # and under one's own user, another user's credential id is not found either
    own = f"/v3/users/{other_id}/application_credentials/{credential['id']}"
    cloud.error(cloud.client.get(own, headers=other), 404)
    # the admin may look, but not create for someone else
    assert cloud.client.get(path, headers=cloud.admin).status_code == 200
    cloud.error(_create(cloud, {"name": "x"}, headers=cloud.admin), 403, "own user")


def test_needs_project_scope_and_restricted_cannot_create(cloud) -> None:
    unscoped = {"X-Auth-Token": cloud.token("demo", "demo-secret")}
    cloud.error(_create(cloud, {"name": "x"}, headers=unscoped), 403, "project-scoped")
    restricted = _create(cloud, {"name": "r"}).json()["application_credential"]
    token = cloud.client.post(
        "/v3/auth/tokens", json=_auth(restricted["id"], restricted["secret"])
    ).headers["X-Subject-Token"]
    cloud.error(_create(cloud, {"name": "y"}, headers={"X-Auth-Token": token}), 403, "restricted")
    free = _create(cloud, {"name": "u", "unrestricted": True}).json()["application_credential"]
    token = cloud.client.post("/v3/auth/tokens", json=_auth(free["id"], free["secret"])).headers[
        "X-Subject-Token"
    ]
    assert _create(cloud, {"name": "z"}, headers={"X-Auth-Token": token}).status_code == 201


def test_credential_tokens_cannot_be_rescoped_nor_rescope(cloud) -> None:
    credential = _create(cloud, {"name": "c"}).json()["application_credential"]
    token = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    ).headers["X-Subject-Token"]
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    cloud.error(cloud.client.post("/v3/auth/tokens", json=rescope), 403, "rescoped")
    other_scope = _auth(credential["id"], credential["secret"])
    other_scope["auth"]["scope"] = {"project": {"id": cloud.id_of(Project, "admin")}}
    cloud.error(cloud.client.post("/v3/auth/tokens", json=other_scope), 401, "own project")


def test_losing_the_role_stops_the_credential(cloud) -> None:
    user_id, headers = cloud.user_with_role("leaver")
    response = cloud.client.post(
        f"/v3/users/{user_id}/application_credentials",
        json={"application_credential": {"name": "c"}},
        headers=headers,
    )
    credential = response.json()["application_credential"]
    project = cloud.id_of(Project, "demo")
    for role in credential["roles"]:
        cloud.client.delete(
            f"/v3/projects/{project}/users/{user_id}/roles/{role['id']}", headers=cloud.admin
        )
    response = cloud.client.post(
        "/v3/auth/tokens", json=_auth(credential["id"], credential["secret"])
    )
    cloud.error(response, 401)
