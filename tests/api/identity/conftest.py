"""The identity API over HTTP (FastAPI's TestClient) on a bootstrapped SQLite database.

The bootstrap runs once per session into a template data dir; each test gets its own
copy, so tests stay independent and fast.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from stratus.identity.api import build_app
from stratus.identity.bootstrap import CatalogEntry, bootstrap
from stratus.identity.models import Project, Role, User
from stratus.identity.provider import TokenProvider
from stratus.runtime.config import Config
from stratus.runtime.process import Runtime
from stratus.testing.cloud import password_auth

ADMIN_PASSWORD = "admin-secret"
DEMO_PASSWORD = "demo-secret"
FAST = {"identity": {"password_hash_cost": 4}}


def _runtime(data_dir: Path, path: Path | None = None) -> Runtime:
    return Runtime(Config(path, {**FAST, "DEFAULT": {"data_dir": str(data_dir)}}))


@pytest.fixture(scope="session")
def identity_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("identity-template") / "data"
    runtime = _runtime(data_dir)
    bootstrap(
        runtime,
        admin_password=ADMIN_PASSWORD,
        demo_password=DEMO_PASSWORD,
        service_passwords={"glance": "glance-secret"},
        endpoints=[
            CatalogEntry("identity", "keystone", "http://127.0.0.1:5000/v3"),
            CatalogEntry("image", "glance", "http://127.0.0.1:9292"),
        ],
        region="RegionOne",
    )
    runtime.close()
    return data_dir


@dataclass
class Cloud:
    client: TestClient
    runtime: Runtime
    admin_token: str
    demo_token: str

    @staticmethod
    def password_auth(
        user: str, password: str, project: str | None = None, domain: str = "default"
    ) -> dict[str, Any]:
        return password_auth(user, password, project, {"id": domain})

    @staticmethod
    def error(response: httpx.Response, status: int, *fragments: str) -> str:
        """Assert a Keystone-shaped error with this status whose message has the fragments."""
        assert response.status_code == status, response.text
        body = response.json()["error"]
        assert body["code"] == status
        assert body["title"]
        for fragment in fragments:
            assert fragment in body["message"], body["message"]
        return body["message"]

    @property
    def provider(self) -> TokenProvider:
        return self.client.app.state.validator  # type: ignore[attr-defined]

    @property
    def admin(self) -> dict[str, str]:
        return {"X-Auth-Token": self.admin_token}

    @property
    def demo(self) -> dict[str, str]:
        return {"X-Auth-Token": self.demo_token}

    def token(self, user: str, password: str, project: str | None = None) -> str:
        response = self.client.post(
            "/v3/auth/tokens", json=self.password_auth(user, password, project)
        )
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def headers(self, user: str, password: str, project: str | None = None) -> dict[str, str]:
        return {"X-Auth-Token": self.token(user, password, project)}

    def id_of(self, model: type[User | Project | Role], name: str) -> str:
        with self.runtime.database("identity").session() as session:
            return session.scalar(sa.select(model.id).where(model.name == name))

    def create(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new entity as admin; its JSON."""
        key = collection[:-1]
        response = self.client.post(f"/v3/{collection}", json={key: body}, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()[key]

    def user_with_role(
        self, name: str, project: str = "demo", role: str = "member", password: str = "pw"
    ) -> tuple[str, dict[str, str]]:
        """A new user with a role on a project: its id and request headers."""
        user = self.create("users", {"name": name, "password": password})
        project_id, role_id = self.id_of(Project, project), self.id_of(Role, role)
        path = f"/v3/projects/{project_id}/users/{user['id']}/roles/{role_id}"
        assert self.client.put(path, headers=self.admin).status_code == 204
        return user["id"], self.headers(name, password, project)


@pytest.fixture
def cloud(identity_template: Path, conf: Config) -> Iterator[Cloud]:
    shutil.copytree(identity_template, conf.data_dir)
    runtime = _runtime(conf.data_dir, conf.path)
    client = TestClient(build_app(runtime), raise_server_exceptions=True)
    with client:
        cloud = Cloud(client, runtime, "", "")
        cloud.admin_token = cloud.token("admin", ADMIN_PASSWORD, "admin")
        cloud.demo_token = cloud.token("demo", DEMO_PASSWORD, "demo")
        yield cloud
    runtime.close()
