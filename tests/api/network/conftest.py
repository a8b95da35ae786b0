"""The network API against the real identity service: identity is bootstrapped once per
session and served in-process; each test gets a fresh network database whose callers'
tokens are validated by the identity API over (in-process) HTTP.

Users: ``admin`` (admin of the admin project), ``demo`` (member of demo), ``reader``
(reader of demo) and ``other`` (member of its own project)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratus.identity.api import build_app as build_identity_app
from stratus.identity.bootstrap import CatalogEntry, bootstrap
from stratus.network.api import build_app, make_backend
from stratus.network.backend import Backend
from stratus.runtime import migrations
from stratus.runtime.config import Config
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime

SERVICE_PASSWORD = "neutron-secret"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1"
PASSWORD = "secret-password"
BASE_CONFIG = f"""
[identity]
password_hash_cost = 10
[network]
service_password = {SERVICE_PASSWORD}
[ml2_type_flat]
flat_networks = physnet1,public
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:102,physnet2
[ml2_type_vxlan]
vni_ranges = 1:6
"""


@dataclass(frozen=True)
class User:
    name: str
    token: str
    project_id: str


def _config(root: Path, extra: str = "") -> Config:
    path = root / "stratus.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {root / 'data'}\n{BASE_CONFIG}{extra}")
    return Config(path)


def _token(client: TestClient, user: str, project: str) -> str:
    auth = {"user": {"name": user, "domain": {"id": "default"}, "password": PASSWORD}}
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": auth},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["x-subject-token"]


@dataclass
class Identity:
    client: TestClient
    users: dict[str, User]


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    runtime = Runtime(_config(tmp_path_factory.mktemp("identity")))
    bootstrap(
        runtime,
        admin_password=PASSWORD,
        demo_password=PASSWORD,
        service_passwords={"neutron": SERVICE_PASSWORD},
        endpoints=[CatalogEntry("network", "neutron", "http://127.0.0.1:9696")],
        region="RegionOne",
    )
    client = TestClient(build_identity_app(runtime), base_url="http://127.0.0.1:5000")
    admin = {"X-Auth-Token": _token(client, "admin", "admin")}

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
    users = {
        name: User(name, _token(client, name, project), projects[project])
        for name, project in (
            ("admin", "admin"),
            ("demo", "demo"),
            ("reader", "demo"),
            ("other", "other"),
        )
    }
    yield Identity(client, users)
    runtime.close()


@dataclass
class Env:
    """One network service, and requests to it as each user."""

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

    def project(self, user: str) -> str:
        return self.users[user].project_id

    def call(self, method: str, path: str, user: str = "demo", **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.users[user].token, **kwargs.pop("headers", {})}
        return self.client.request(method, f"/v2.0/{path}", headers=headers, **kwargs)

    def ok(self, method: str, path: str, user: str = "demo", **kwargs: Any) -> Any:
        """The decoded body of a call that must succeed."""
        response = self.call(method, path, user, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def error(
        self, status: int, method: str, path: str, user: str = "demo", **kwargs: Any
    ) -> dict[str, Any]:
        """The NeutronError of a call that must fail with ``status``."""
        response = self.call(method, path, user, **kwargs)
        assert response.status_code == status, response.text
        return response.json()["NeutronError"]

    def create(self, kind: str, user: str = "demo", **body: Any) -> dict[str, Any]:
        plural = {
            "security_group": "security-groups",
            "security_group_rule": "security-group-rules",
        }
        path = plural.get(kind, f"{kind}s")
        return self.ok("POST", path, user, json={kind: body})[kind]

    def network(self, user: str = "demo", **body: Any) -> dict[str, Any]:
        return self.create("network", user, **{"name": "net", **body})

    def subnet(
        self, network_id: str, cidr: str = "10.0.0.0/24", user: str = "demo", **body: Any
    ) -> dict[str, Any]:
        version = 6 if ":" in cidr else 4
        return self.create(
            "subnet", user, network_id=network_id, cidr=cidr, ip_version=version, **body
        )

    def port(self, network_id: str, user: str = "demo", **body: Any) -> dict[str, Any]:
        return self.create("port", user, network_id=network_id, **body)


def make_env(identity: Identity, root: Path, database_url: str = "") -> Iterator[Env]:
    extra = f"[database]\nconnection = {database_url}\n" if database_url else ""
    runtime = Runtime(_config(root, extra))
    migrations.upgrade("network", runtime.database("network"))
    validator = IdentityClient(runtime.conf, "network", http=identity.client)
    app = build_app(make_backend(runtime), validator)
    with TestClient(app, base_url="http://127.0.0.1:9696", raise_server_exceptions=False) as c:
        yield Env(app, c, identity, runtime)
    runtime.close()


@pytest.fixture
def env(identity: Identity, tmp_path: Path) -> Iterator[Env]:
    yield from make_env(identity, tmp_path)


def _postgres_database() -> Iterator[str]:
    name = f"stratus_netapi_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError:
        pytest.skip("PostgreSQL is not running on loopback")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        engine.dispose()


def _serve(app: FastAPI) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}/v2.0"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, identity: Identity, tmp_path: Path
) -> Iterator[tuple[Env, str]]:
    """An env on SQLite and on PostgreSQL, its API served on a loopback port."""
    urls = iter([""]) if request.param == "sqlite" else _postgres_database()
    for url in urls:
        for env in make_env(identity, tmp_path, url):
            for base in _serve(env.app):
                yield env, base
