"""The network API against the real identity service: identity is bootstrapped once per
session and served in-process; each test gets a fresh network database whose callers'
tokens are validated by the identity API over (in-process) HTTP.

Users: ``admin`` (admin of the admin project), ``demo`` (member of demo), ``reader``
(reader of demo) and ``other`` (member of its own project)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratus.identity.bootstrap import CatalogEntry
from stratus.network.api import build_app, make_backend
from stratus.network.backend import Backend
from stratus.runtime import migrations
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime
from stratus.testing.cloud import scratch_database
from stratus.testing.identity import InProcessIdentity, User, start_identity, write_config
from stratus.testing.serve import serve

SERVICE_PASSWORD = "neutron-secret"
NETWORK_CONFIG = f"""
[network]
service_password = {SERVICE_PASSWORD}
[ml2_type_flat]
flat_networks = physnet1,public
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:102,physnet2
[ml2_type_vxlan]
vni_ranges = 1:6
"""


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessIdentity]:
    identity = start_identity(
        tmp_path_factory.mktemp("identity"),
        {"neutron": SERVICE_PASSWORD},
        [CatalogEntry("network", "neutron", "http://127.0.0.1:9696")],
    )
    yield identity
    identity.close()


@dataclass
class Env:
    """One network service, and requests to it as each user."""

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


def make_env(identity: InProcessIdentity, root: Path, database_url: str = "") -> Iterator[Env]:
    extra = f"[database]\nconnection = {database_url}\n" if database_url else ""
    runtime = Runtime(write_config(root, NETWORK_CONFIG + extra))
    migrations.upgrade("network", runtime.database("network"))
    validator = IdentityClient(runtime.conf, "network", http=identity.client)
    app = build_app(make_backend(runtime), validator)
    with TestClient(app, base_url="http://127.0.0.1:9696", raise_server_exceptions=False) as c:
        yield Env(app, c, identity, runtime)
    runtime.close()


@pytest.fixture
def env(identity: InProcessIdentity, tmp_path: Path) -> Iterator[Env]:
    yield from make_env(identity, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, identity: InProcessIdentity, tmp_path: Path
) -> Iterator[tuple[Env, str]]:
    """An env on SQLite and on PostgreSQL, its API served on a loopback port."""
    with ExitStack() as stack:
        url = ""
        if request.param == "postgresql":
            url = stack.enter_context(scratch_database("postgresql"))
        env = stack.enter_context(contextmanager(make_env)(identity, tmp_path, url))
        base = stack.enter_context(serve(env.app))
        yield env, f"{base}/v2.0"
