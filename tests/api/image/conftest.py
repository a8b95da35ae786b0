"""The image API against the real identity service: identity is bootstrapped once per
session and served in-process; each test gets a fresh image database and store whose
tokens are validated by the identity API over (in-process) HTTP."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratus.identity.api import build_app as build_identity_app
from stratus.identity.bootstrap import CatalogEntry, bootstrap
from stratus.image.api import build_app
from stratus.image.api.access import Backend
from stratus.image.api.patch import CONTENT_TYPE as PATCH_TYPE
from stratus.runtime import migrations
from stratus.runtime.config import Config
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime

SERVICE_PASSWORD = "glance-secret"
PASSWORD = "secret-password"
COMMON_CONFIG = f"""
[identity]
password_hash_cost = 10
[image]
service_password = {SERVICE_PASSWORD}
"""


@dataclass(frozen=True)
class User:
    name: str
    token: str
    project_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


@dataclass
class Identity:
    client: TestClient
    users: dict[str, User]

    def token(self, user: str, project: str) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": PASSWORD}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        response = self.client.post("/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        return response.headers["x-subject-token"]

    def revoke(self, token: str) -> None:
        admin = self.users["admin"].headers
        response = self.client.delete(
            "/v3/auth/tokens", headers={**admin, "X-Subject-Token": token}
        )
        assert response.status_code == 204, response.text


def _write_config(root: Path) -> Config:
    path = root / "stratus.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {root / 'data'}\n{COMMON_CONFIG}")
    return Config(path)


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    """admin (admin project), demo (member of demo), other (member of its own project),
    reader (reader on demo)."""
    runtime = Runtime(_write_config(tmp_path_factory.mktemp("identity")))
    bootstrap(
        runtime,
        admin_password=PASSWORD,
        demo_password=PASSWORD,
        service_passwords={"glance": SERVICE_PASSWORD},
        endpoints=[CatalogEntry("image", "glance", "http://127.0.0.1:9292")],
        region="RegionOne",
    )
    client = TestClient(build_identity_app(runtime), base_url="http://127.0.0.1:5000")
    client.__enter__()  # one event loop thread for every request, not one per request
    ident = Identity(client, {})
    admin_token = ident.token("admin", "admin")
    admin = {"X-Auth-Token": admin_token}

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
    for name, project in (("admin", "admin"), ("demo", "demo"), ("other", "other")):
        token = admin_token if name == "admin" else ident.token(name, project)
        ident.users[name] = User(name, token, projects[project])
    ident.users["reader"] = User("reader", ident.token("reader", "demo"), projects["demo"])
    yield ident
    client.__exit__(None, None, None)
    runtime.close()


@dataclass
class Env:
    """One image service, and requests to it as each user."""

    app: FastAPI
    client: TestClient
    identity: Identity
    runtime: Runtime

    @property
    def users(self) -> dict[str, User]:
        return self.identity.users

    @property
    def backend(self) -> Backend:
        return self.app.state.backend

    def call(self, method: str, path: str, user: str = "demo", **kwargs: Any) -> httpx.Response:
        headers = {**self.users[user].headers, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def create(self, user: str = "demo", **body: Any) -> dict[str, Any]:
        response = self.call("POST", "/v2/images", user, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def show(self, image_id: str, user: str = "demo") -> dict[str, Any]:
        response = self.call("GET", f"/v2/images/{image_id}", user)
        assert response.status_code == 200, response.text
        return response.json()

    def patch(self, image_id: str, ops: list[dict[str, Any]], user: str = "demo") -> httpx.Response:
        headers = {"Content-Type": PATCH_TYPE}
        return self.call("PATCH", f"/v2/images/{image_id}", user, json=ops, headers=headers)

    def upload(
        self, image_id: str, data: Any, user: str = "demo", **headers: str
    ) -> httpx.Response:
        headers = {"Content-Type": "application/octet-stream", **headers}
        return self.call("PUT", f"/v2/images/{image_id}/file", user, content=data, headers=headers)

    def names(self, user: str = "demo", **params: Any) -> set[str]:
        response = self.call("GET", "/v2/images", user, params=params)
        assert response.status_code == 200, response.text
        return {image["name"] for image in response.json()["images"]}


@pytest.fixture(scope="session")
def image_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image database migrated once, copied for each test (much faster than migrating)."""
    runtime = Runtime(_write_config(tmp_path_factory.mktemp("image-template")))
    database = runtime.database("image")
    migrations.upgrade("image", database)
    runtime.close()
    return Path(database.url.removeprefix("sqlite:///"))


@pytest.fixture
def env(identity: Identity, image_tables: Path, tmp_path: Path) -> Iterator[Env]:
    runtime = Runtime(_write_config(tmp_path))
    (tmp_path / "data").mkdir()
    shutil.copy(image_tables, tmp_path / "data" / image_tables.name)
    validator = IdentityClient(runtime.conf, "image", http=identity.client)
    app = build_app(runtime, validator)
    with TestClient(app, base_url="http://127.0.0.1:9292", raise_server_exceptions=False) as c:
        yield Env(app, c, identity, runtime)
    runtime.close()


@pytest.fixture
def served(env: Env) -> Iterator[str]:
    """The image API of ``env`` on a real loopback port (for streaming over a socket)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(env.app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
