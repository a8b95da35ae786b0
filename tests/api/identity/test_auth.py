"""Version discovery and /v3/auth: issuing, validating, checking and revoking tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stratus.identity.models import Project, Role, User
from stratus.identity.tokens import TokenPayload, new_audit_id
from stratus.runtime.db import utcnow

V3 = "http://testserver/v3/"


def test_root_lists_versions_with_300(cloud) -> None:
    response = cloud.client.get("/")
    assert response.status_code == 300
    (version,) = response.json()["versions"]["values"]
    assert version["id"].startswith("v3.") and version["status"] == "stable"
    assert version["links"] == [{"rel": "self", "href": V3}]


@pytest.mark.parametrize("path", ["/v3", "/v3/"])
def test_v3_describes_itself(cloud, path: str) -> None:
    response = cloud.client.get(path)
    assert response.status_code == 200
    version = response.json()["version"]
    assert version["id"].startswith("v3.") and version["links"][0]["href"] == V3
    assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


def test_password_auth_by_name_with_project_scope(cloud) -> None:
    response = cloud.client.post(
        "/v3/auth/tokens", json=cloud.password_auth("admin", "admin-secret", "admin")
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert response.headers["X-Subject-Token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin" and token["user"]["domain"]["id"] == "default"
    assert token["project"]["name"] == "admin" and token["is_domain"] is False
    assert {r["name"] for r in token["roles"]} == {"admin", "member", "reader"}
    assert len(token["audit_ids"]) == 1 and token["expires_at"].endswith("Z")
    types = {entry["type"]: entry for entry in token["catalog"]}
    assert set(types) == {"identity", "image"}
    assert {e["interface"] for e in types["image"]["endpoints"]} == {"public", "internal", "admin"}


def test_password_auth_by_user_id_with_domain_name_scope(cloud) -> None:
    user_id = cloud.id_of(User, "admin")
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user_id, "password": "admin-secret"}},
            },
            "scope": {"domain": {"name": "Default"}},
        }
    }
    response = cloud.client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token["domain"] == {"id": "default", "name": "Default"}
    assert "project" not in token and token["roles"]


def test_project_scope_by_id(cloud) -> None:
    body = cloud.password_auth("demo", "demo-secret")
    body["auth"]["scope"] = {"project": {"id": cloud.id_of(Project, "demo")}}
    response = cloud.client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201
    assert [r["name"] for r in response.json()["token"]["roles"]] == ["member", "reader"]


def test_unscoped_token_has_no_roles_or_catalog(cloud) -> None:
    response = cloud.client.post("/v3/auth/tokens", json=cloud.password_auth("demo", "demo-secret"))
    token = response.json()["token"]
    assert response.status_code == 201
    assert "project" not in token and "roles" not in token and "catalog" not in token


def test_explicit_unscoped(cloud) -> None:
    body = cloud.password_auth("demo", "demo-secret")
    body["auth"]["scope"] = "unscoped"
    assert "project" not in cloud.client.post("/v3/auth/tokens", json=body).json()["token"]


def test_default_project_scopes_a_token_without_scope(cloud) -> None:
    demo_project = cloud.id_of(Project, "demo")
    cloud.create("users", {"name": "dp", "password": "pw", "default_project_id": demo_project})
    user_id = cloud.id_of(User, "dp")
    role_id = cloud.id_of(Role, "reader")
    cloud.client.put(
        f"/v3/projects/{demo_project}/users/{user_id}/roles/{role_id}", headers=cloud.admin
    )
    token = cloud.client.post("/v3/auth/tokens", json=cloud.password_auth("dp", "pw")).json()
    assert token["token"]["project"]["id"] == demo_project


def test_nocatalog(cloud) -> None:
    body = cloud.password_auth("admin", "admin-secret", "admin")
    response = cloud.client.post("/v3/auth/tokens?nocatalog", json=body)
    assert response.status_code == 201 and "catalog" not in response.json()["token"]
    headers = {**cloud.admin, "X-Subject-Token": cloud.admin_token}
    assert (
        "catalog"
        not in cloud.client.get("/v3/auth/tokens?nocatalog=1", headers=headers).json()["token"]
    )


@pytest.mark.parametrize(
    ("user", "password", "project"),
    [
        ("admin", "wrong", "admin"),
        ("nobody", "admin-secret", "admin"),
        ("admin", "", "admin"),
    ],
)
def test_bad_credentials_are_401(cloud, user: str, password: str, project: str) -> None:
    response = cloud.client.post(
        "/v3/auth/tokens", json=cloud.password_auth(user, password, project)
    )
    cloud.error(response, 401, "Invalid credentials")
    assert "X-Subject-Token" not in response.headers


def test_unknown_user_domain_is_401(cloud) -> None:
    body = cloud.password_auth("admin", "admin-secret", domain="nowhere")
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401)


@pytest.mark.parametrize("project", ["service", "no-such-project"])
def test_scope_without_roles_or_unknown_is_401(cloud, project: str) -> None:
    body = cloud.password_auth("demo", "demo-secret", project)
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401, "no role")


def test_disabled_user_cannot_authenticate(cloud) -> None:
    demo_id = cloud.id_of(User, "demo")
    cloud.client.patch(
        f"/v3/users/{demo_id}", json={"user": {"enabled": False}}, headers=cloud.admin
    )
    body = cloud.password_auth("demo", "demo-secret", "demo")
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401)


def test_disabled_project_cannot_be_scoped(cloud) -> None:
    demo_project = cloud.id_of(Project, "demo")
    cloud.client.patch(
        f"/v3/projects/{demo_project}", json={"project": {"enabled": False}}, headers=cloud.admin
    )
    body = cloud.password_auth("demo", "demo-secret", "demo")
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "'auth' is required"),
        ({"auth": {}}, "'auth.identity' is required"),
        ({"auth": {"identity": {"methods": []}}}, "auth.identity.methods"),
        ({"auth": {"identity": {"methods": "password"}}}, "auth.identity.methods"),
        ({"auth": {"identity": {"methods": ["password"]}}}, "auth.identity.password"),
        (
            {"auth": {"identity": {"methods": ["password", "token"], "token": {"id": "x"}}}},
            "exactly one method",
        ),
        (
            {
                "auth": {
                    "identity": {"methods": ["password"], "password": {"user": {"password": "x"}}}
                }
            },
            "needs an id or a name",
        ),
        (
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"name": "admin", "password": "x"}},
                    }
                }
            },
            "needs its domain",
        ),
        (
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"id": 5, "password": "x"}},
                    }
                }
            },
            "auth.identity.password.user.id",
        ),
        (
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"id": "a", "password": "x", "colour": "red"}},
                    }
                }
            },
            "not an allowed field",
        ),
        (
            {
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": "x"}},
                    "scope": {"project": {"id": "a"}, "domain": {"id": "b"}},
                }
            },
            "exactly one of project or domain",
        ),
        (
            {
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": "x"}},
                    "scope": {"system": {"all": True}},
                }
            },
            "auth.scope",
        ),
        (
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"id": "a", "password": "x" * 4097}},
                    }
                }
            },
            "password",
        ),
    ],
)
def test_malformed_auth_requests_are_400(cloud, body: dict, fragment: str) -> None:
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 400, fragment)


def test_project_scope_by_name_needs_domain(cloud) -> None:
    body = cloud.password_auth("admin", "admin-secret")
    body["auth"]["scope"] = {"project": {"name": "admin"}}
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 400, "needs its domain")


def test_unsupported_method_is_401(cloud) -> None:
    body = {"auth": {"identity": {"methods": ["totp"]}}}
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401, "not supported")


def test_malformed_json_and_content_type(cloud) -> None:
    bad_json = cloud.client.post(
        "/v3/auth/tokens", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    cloud.error(bad_json, 400, "Malformed JSON")
    wrong_type = cloud.client.post(
        "/v3/auth/tokens", content=b"auth=1", headers={"Content-Type": "text/plain"}
    )
    cloud.error(wrong_type, 415, "text/plain")


def test_rescope_with_token_method(cloud) -> None:
    unscoped = cloud.token("admin", "admin-secret")
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
        }
    }
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401)
    body["auth"]["scope"] = {"project": {"name": "admin", "domain": {"name": "Default"}}}
    response = cloud.client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201
    token = response.json()["token"]
    original = cloud.client.get(
        "/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": unscoped}
    ).json()["token"]
    assert set(token["methods"]) == {"password", "token"}
    assert token["expires_at"] == original["expires_at"]
    assert token["audit_ids"][1] == original["audit_ids"][0]


def test_rescope_with_bad_token_is_401(cloud) -> None:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": "garbage"}}}}
    cloud.error(cloud.client.post("/v3/auth/tokens", json=body), 401, "rescope")


def test_validate_own_token_and_others_as_admin(cloud) -> None:
    own = cloud.client.get(
        "/v3/auth/tokens", headers={**cloud.demo, "X-Subject-Token": cloud.demo_token}
    )
    assert own.status_code == 200 and own.headers["X-Subject-Token"] == cloud.demo_token
    assert own.json()["token"]["user"]["name"] == "demo"
    other = cloud.client.get(
        "/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": cloud.demo_token}
    )
    assert other.status_code == 200 and other.json()["token"]["catalog"]


def test_service_user_validates_tokens(cloud) -> None:
    service = cloud.headers("glance", "glance-secret", "service")
    response = cloud.client.get(
        "/v3/auth/tokens", headers={**service, "X-Subject-Token": cloud.demo_token}
    )
    assert response.status_code == 200


def test_non_admin_cannot_validate_someone_elses_token(cloud) -> None:
    response = cloud.client.get(
        "/v3/auth/tokens", headers={**cloud.demo, "X-Subject-Token": cloud.admin_token}
    )
    cloud.error(response, 403, "validate_token")


def test_validate_needs_subject_and_valid_subject(cloud) -> None:
    cloud.error(cloud.client.get("/v3/auth/tokens", headers=cloud.admin), 400, "X-Subject-Token")
    response = cloud.client.get(
        "/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": "nope"}
    )
    cloud.error(response, 404, "Could not find token")


def test_head_checks_a_token(cloud) -> None:
    good = cloud.client.head(
        "/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": cloud.demo_token}
    )
    assert good.status_code == 200 and not good.content
    bad = cloud.client.head("/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": "x"})
    assert bad.status_code == 404


def test_revoke_own_token(cloud) -> None:
    token = cloud.token("demo", "demo-secret", "demo")
    headers = {"X-Auth-Token": token, "X-Subject-Token": token}
    assert cloud.client.delete("/v3/auth/tokens", headers=headers).status_code == 204
    cloud.error(cloud.client.get("/v3/auth/catalog", headers={"X-Auth-Token": token}), 401)
    # the other demo token is untouched
    assert cloud.client.get("/v3/auth/catalog", headers=cloud.demo).status_code == 200


def test_admin_revokes_someone_elses_token_but_demo_cannot(cloud) -> None:
    refused = cloud.client.delete(
        "/v3/auth/tokens", headers={**cloud.demo, "X-Subject-Token": cloud.admin_token}
    )
    cloud.error(refused, 403)
    done = cloud.client.delete(
        "/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": cloud.demo_token}
    )
    assert done.status_code == 204
    cloud.error(cloud.client.get("/v3/auth/projects", headers=cloud.demo), 401)


@pytest.mark.parametrize("token", [None, "", "not-a-token", "gAAAAA" + "x" * 2000])
def test_missing_or_bad_token_is_401(cloud, token: str | None) -> None:
    headers = {} if token is None else {"X-Auth-Token": token}
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=headers), 401)


def test_expired_token_is_401(cloud) -> None:
    past = utcnow() - timedelta(hours=2)
    payload = TokenPayload(
        user_id=cloud.id_of(User, "admin"),
        methods=("password",),
        issued_at=past,
        expires_at=(past + timedelta(hours=1)).replace(microsecond=0),
        audit_ids=(new_audit_id(),),
        project_id=cloud.id_of(Project, "admin"),
    )
    expired = cloud.provider.codec.encode(payload)
    cloud.error(cloud.client.get("/v3/auth/catalog", headers={"X-Auth-Token": expired}), 401)
    response = cloud.client.get(
        "/v3/auth/tokens", headers={**cloud.admin, "X-Subject-Token": expired}
    )
    cloud.error(response, 404)


def test_catalog(cloud) -> None:
    response = cloud.client.get("/v3/auth/catalog", headers=cloud.demo)
    assert response.status_code == 200
    body = response.json()
    assert {entry["name"] for entry in body["catalog"]} == {"keystone", "glance"}
    assert body["links"]["self"].endswith("/v3/auth/catalog")


def test_catalog_needs_a_scoped_token(cloud) -> None:
    unscoped = {"X-Auth-Token": cloud.token("demo", "demo-secret")}
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=unscoped), 403, "scoped")


def test_auth_projects_and_domains(cloud) -> None:
    projects = cloud.client.get("/v3/auth/projects", headers=cloud.demo).json()["projects"]
    assert [p["name"] for p in projects] == ["demo"]
    assert cloud.client.get("/v3/auth/domains", headers=cloud.demo).json()["domains"] == []
    domains = cloud.client.get("/v3/auth/domains", headers=cloud.admin).json()["domains"]
    assert [d["id"] for d in domains] == ["default"]


def test_password_change_revokes_old_tokens_but_not_new_ones(cloud) -> None:
    user_id, headers = cloud.user_with_role("pc")
    body = {"user": {"password": "new", "original_password": "pw"}}
    response = cloud.client.post(f"/v3/users/{user_id}/password", json=body, headers=headers)
    assert response.status_code == 204
    cloud.error(cloud.client.get("/v3/auth/catalog", headers=headers), 401)
    fresh = cloud.headers("pc", "new", "demo")
    assert cloud.client.get("/v3/auth/catalog", headers=fresh).status_code == 200


def test_roles_are_computed_at_validation(cloud) -> None:
    user_id, headers = cloud.user_with_role("late")
    group = cloud.create("groups", {"name": "readers-and-admins"})
    admin_role = cloud.id_of(Role, "admin")
    demo_project = cloud.id_of(Project, "demo")
    cloud.client.put(f"/v3/groups/{group['id']}/users/{user_id}", headers=cloud.admin)
    cloud.client.put(
        f"/v3/projects/{demo_project}/groups/{group['id']}/roles/{admin_role}", headers=cloud.admin
    )
    subject = {**cloud.admin, "X-Subject-Token": headers["X-Auth-Token"]}
    roles = {
        r["name"]
        for r in cloud.client.get("/v3/auth/tokens", headers=subject).json()["token"]["roles"]
    }
    assert roles == {"admin", "member", "reader"}
    cloud.client.delete(f"/v3/groups/{group['id']}/users/{user_id}", headers=cloud.admin)
    member_role = cloud.id_of(Role, "member")
    cloud.client.delete(
        f"/v3/projects/{demo_project}/users/{user_id}/roles/{member_role}", headers=cloud.admin
    )
    cloud.error(cloud.client.get("/v3/auth/tokens", headers=subject), 404)


def test_the_service_role_alone_validates_tokens(cloud) -> None:
    _, service = cloud.user_with_role("svc", project="service", role="service")
    response = cloud.client.get(
        "/v3/auth/tokens", headers={**service, "X-Subject-Token": cloud.demo_token}
    )
    assert response.status_code == 200
    cloud.error(cloud.client.get("/v3/users", headers=service), 403)


def test_openapi_document_lists_request_bodies(cloud) -> None:
    document = cloud.client.get("/openapi.json").json()
    body = document["paths"]["/v3/auth/tokens"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("AuthRequest")
    assert "/v3/projects/{target_id}/users/{actor_id}/roles/{role_id}" in document["paths"]
