"""The image API against the real identity service: identity is bootstrapped once per
session and served in-process; each test gets a fresh image database and store whose
tokens are validated by the identity API over (in-process) HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratus.identity.bootstrap import CatalogEntry
from stratus.image.api import build_app
from stratus.image.api.access import Backend
from stratus.image.api.patch import CONTENT_TYPE as PATCH_TYPE
from stratus.runtime import migrations
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime
from stratus.testing.identity import InProcessIdentity, User, start_identity, write_config
from stratus.testing.serve import serve

SERVICE_PASSWORD = "glance-secret"
IMAGE_CONFIG = f"[image]\nservice_password = {SERVICE_PASSWORD}\n"


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessIdentity]:
    identity = start_identity(
        tmp_path_factory.mktemp("identity"),
        {"glance": SERVICE_PASSWORD},
        [CatalogEntry("image", "glance", "http://127.0.0.1:9292")],
    )
    yield identity
    identity.close()


@dataclass
class Env:
    """One image service, and requests to it as each user."""

    app: FastAPI
    client: TestClient
    identity: InProcessIdentity
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
    runtime = Runtime(write_config(tmp_path_factory.mktemp("image-template"), IMAGE_CONFIG))
    database = runtime.database("image")
    migrations.upgrade("image", database)
    runtime.close()
    return Path(database.url.removeprefix("sqlite:///"))


@pytest.fixture
def env(identity: InProcessIdentity, image_tables: Path, tmp_path: Path) -> Iterator[Env]:
    runtime = Runtime(write_config(tmp_path, IMAGE_CONFIG))
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
    with serve(env.app) as url:
        yield url
