"""The real identity service, bootstrapped and served in-process, for other services' API
tests: their callers' tokens are validated by the identity API over (in-process) HTTP.

Users (all with password :data:`PASSWORD`): ``admin`` (admin of project admin), ``demo``
(member of demo), ``reader`` (reader of demo) and ``other`` (member of its own project).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stratus.identity.api import build_app
from stratus.identity.bootstrap import CatalogEntry, bootstrap
from stratus.runtime.config import Config
from stratus.runtime.process import Runtime

PASSWORD = "secret-password"
IDENTITY_URL = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class User:
    name: str
    token: str
    project_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


@dataclass
class InProcessIdentity:
    client: TestClient
    runtime: Runtime
    users: dict[str, User] = field(default_factory=dict)

    def token(self, user: str, project: str) -> str:
        password = {"user": {"name": user, "domain": {"id": "default"}, "password": PASSWORD}}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": password},
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        response = self.client.post("/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        return response.headers["x-subject-token"]

    def revoke(self, token: str) -> None:
        headers = {**self.users["admin"].headers, "X-Subject-Token": token}
        response = self.client.delete("/v3/auth/tokens", headers=headers)
        assert response.status_code == 204, response.text

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.runtime.close()


def write_config(root: Path, text: str = "") -> Config:
    """A config under ``root`` with cheap password hashing, plus ``text``."""
    path = root / "stratus.conf"
    path.write_text(
        f"[DEFAULT]\ndata_dir = {root / 'data'}\n[identity]\npassword_hash_cost = 10\n{text}"
    )
    return Config(path)


def start_identity(
    root: Path, service_passwords: dict[str, str], endpoints: list[CatalogEntry]
) -> InProcessIdentity:
    """Bootstrap identity under ``root`` with the given service users and catalog, serve
    it in-process and sign in the four test users."""
    runtime = Runtime(write_config(root))
    bootstrap(
        runtime,
        admin_password=PASSWORD,
        demo_password=PASSWORD,
        service_passwords=service_passwords,
        endpoints=endpoints,
        region="RegionOne",
    )
    client = TestClient(build_app(runtime), base_url=IDENTITY_URL)
    client.__enter__()  # one event loop thread for every request, not one per request
    identity = InProcessIdentity(client, runtime)
    admin = {"X-Auth-Token": identity.token("admin", "admin")}

    def create(kind: str, body: dict[str, Any]) -> str:
        response = client.post(f"/v3/{kind}s", json={kind: body}, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()[kind]["id"]

    roles = {r["name"]: r["id"] for r in client.get("/v3/roles", headers=admin).json()["roles"]}
    projects = {
        p["name"]: p["id"] for p in client.get("/v3/projects", headers=admin).json()["projects"]
    }
    projects["other"] = create("project", {"name": "other", "domain_id": "default"})
    for name, project, role in (("other", "other", "member"), ("reader", "demo", "reader")):
        user_id = create("user", {"name": name, "password": PASSWORD, "domain_id": "default"})
        grant = f"/v3/projects/{projects[project]}/users/{user_id}/roles/{roles[role]}"
        assert client.put(grant, headers=admin).status_code == 204
    for name, project in (
        ("admin", "admin"),
        ("demo", "demo"),
        ("reader", "demo"),
        ("other", "other"),
    ):
        identity.users[name] = User(name, identity.token(name, project), projects[project])
    return identity
