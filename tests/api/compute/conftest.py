"""The compute API against the real identity and image services, with the scheduler,
conductor and fake-driver agents on an in-process bus.

Identity and image run once per session (in-process); every test gets a fresh compute
database, bus and parts. Requests to the image service go through its real API, as the
compute service's own user or as the caller, exactly as in a deployment.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratus.compute.agent.manager import ComputeAgent
from stratus.compute.api import build_app
from stratus.compute.api.common import Backend
from stratus.compute.api.policy import default_policy
from stratus.compute.clients.images import ImageClient
from stratus.compute.clients.network import NetworkClient
from stratus.compute.flavors import create_default_flavors
from stratus.compute.networking import Networking
from stratus.compute.parts import build_conductor, build_scheduler
from stratus.compute.virt.driver import VirtDriver
from stratus.compute.virt.fake import FakeDriver
from stratus.identity.bootstrap import CatalogEntry
from stratus.image.api import build_app as build_image_app
from stratus.network.api import build_app as build_network_app
from stratus.network.api import make_backend as make_network_backend
from stratus.runtime import migrations
from stratus.runtime.bus import Bus
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.config import Config
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime
from stratus.testing.identity import start_identity

NOVA_PASSWORD = "nova-secret"
GLANCE_PASSWORD = "glance-secret"
NEUTRON_PASSWORD = "neutron-secret"
COMMON_CONFIG = f"""
[image]
service_password = {GLANCE_PASSWORD}
[network]
service_password = {NEUTRON_PASSWORD}
[ml2_type_vxlan]
vni_ranges = 1:1000
[compute]
service_password = {NOVA_PASSWORD}
compute_driver = fake
reserved_host_memory_mb = 0
[fake_driver]
host_count = 2
vcpus = 8
memory_mb = 8192
local_gb = 200
"""
IMAGE_URL = "http://127.0.0.1:9292"
NETWORK_URL = "http://127.0.0.1:9696"
# The network service is in the catalog of this region only, so that the other tests
# see a cloud without one.
NETWORK_REGION = "RegionTwo"
KERNEL_PROPS = {"hw_architecture": "x86_64"}


@dataclass(frozen=True)
class User:
    name: str
    token: str
    project_id: str
    user_id: str


def _config(root: Path, extra: str = "") -> Config:
    path = root / "stratus.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {root / 'data'}\nhost = node\n{COMMON_CONFIG}{extra}")
    return Config(path)


@dataclass
class Cloud:
    """Identity and image, shared by the session."""

    identity: TestClient
    image: TestClient
    network: TestClient
    users: dict[str, User]
    images: dict[str, str] = field(default_factory=dict)

    def create_image(self, user: str, data: bytes | None = b"disk", **body: Any) -> str:
        headers = {"X-Auth-Token": self.users[user].token}
        body = {"disk_format": "qcow2", "container_format": "bare", **body}
        response = self.image.post("/v2/images", json=body, headers=headers)
        assert response.status_code == 201, response.text
        image_id = response.json()["id"]
        if data is not None:
            upload = self.image.put(
                f"/v2/images/{image_id}/file",
                content=data,
                headers={**headers, "Content-Type": "application/octet-stream"},
            )
            assert upload.status_code == 204, upload.text
        return image_id


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """The shared identity users (admin, demo, reader, other) with their user ids; the
    image and network services; images: cirros (public), private (demo's), queued (no
    data), other (other's private), big (needs much RAM), arm (another architecture)."""
    passwords = {"glance": GLANCE_PASSWORD, "nova": NOVA_PASSWORD, "neutron": NEUTRON_PASSWORD}
    endpoints = [
        CatalogEntry("image", "glance", IMAGE_URL),
        CatalogEntry("compute", "nova", "http://127.0.0.1:8774/v2.1"),
    ]
    identity = start_identity(tmp_path_factory.mktemp("identity"), passwords, endpoints)
    runtime = Runtime(_config(tmp_path_factory.mktemp("services")))
    migrations.upgrade("image", runtime.database("image"))
    migrations.upgrade("network", runtime.database("network"))
    validator = IdentityClient(runtime.conf, "image", http=identity.client)
    image = TestClient(build_image_app(runtime, validator), base_url=IMAGE_URL)
    image.__enter__()
    network_validator = IdentityClient(runtime.conf, "network", http=identity.client)
    network_app = build_network_app(make_network_backend(runtime), network_validator)
    network = TestClient(network_app, base_url=NETWORK_URL)
    network.__enter__()
    env = Cloud(identity.client, image, network, {})
    admin = identity.users["admin"].headers
    for user in identity.users.values():
        body = identity.client.get(
            "/v3/auth/tokens", headers={**admin, "X-Subject-Token": user.token}
        )
        user_id = body.json()["token"]["user"]["id"]
        env.users[user.name] = User(user.name, user.token, user.project_id, user_id)
    _add_network_region(identity.client, admin)
    env.images["cirros"] = env.create_image(
        "admin", name="cirros", visibility="public", min_ram=0, **KERNEL_PROPS
    )
    env.images["private"] = env.create_image("demo", name="demo-private")
    env.images["queued"] = env.create_image("demo", data=None, name="queued")
    env.images["other"] = env.create_image("other", name="other-private")
    env.images["big"] = env.create_image("demo", name="big", min_ram=100_000)
    env.images["arm"] = env.create_image("demo", name="arm", hw_architecture="aarch64")
    yield env
    network.__exit__(None, None, None)
    image.__exit__(None, None, None)
    identity.close()
    runtime.close()


def _add_network_region(client: TestClient, admin: dict[str, str]) -> None:
    """The network service's endpoints, in a region of their own."""
    client.post("/v3/regions", json={"region": {"id": NETWORK_REGION}}, headers=admin)
    service = {"service": {"type": "network", "name": "neutron"}}
    service_id = client.post("/v3/services", json=service, headers=admin).json()["service"]["id"]
    for interface in ("public", "internal"):
        endpoint = {
            "service_id": service_id,
            "interface": interface,
            "url": NETWORK_URL,
            "region_id": NETWORK_REGION,
        }
        response = client.post("/v3/endpoints", json={"endpoint": endpoint}, headers=admin)
        assert response.status_code == 201, response.text


@pytest.fixture(scope="session")
def compute_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compute database migrated once, copied for each test."""
    runtime = Runtime(_config(tmp_path_factory.mktemp("compute-template")))
    create_default_flavors(runtime)
    database = runtime.database("compute")
    runtime.close()
    return Path(database.url.removeprefix("sqlite:///"))


@dataclass
class Env:
    """One compute service (api, scheduler, conductor, a fake agent of two hosts), and
    requests to it as each user."""

    app: FastAPI
    client: TestClient
    cloud: Cloud
    runtime: Runtime
    driver: Any  # the fake driver, unless the test made another
    agent: ComputeAgent
    parts: list[WorkerPart]

    @property
    def users(self) -> dict[str, User]:
        return self.cloud.users

    @property
    def images(self) -> dict[str, str]:
        return self.cloud.images

    @property
    def backend(self) -> Backend:
        return self.app.state.backend

    def call(
        self, method: str, path: str, user: str = "demo", version: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"X-Auth-Token": self.users[user].token, **kwargs.pop("headers", {})}
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return self.client.request(method, "/v2.1" + path, headers=headers, **kwargs)

    def ok(
        self, method: str, path: str, user: str = "demo", status: int = 200, **kwargs: Any
    ) -> Any:
        response = self.call(method, path, user, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def boot(
        self,
        user: str = "demo",
        wait: str | None = "ACTIVE",
        hints: dict[str, Any] | None = None,
        **server: Any,
    ) -> dict[str, Any]:
        body = {
            "name": "vm",
            "imageRef": self.images["cirros"],
            "flavorRef": "1",
            "networks": "none",
            **server,
        }
        request: dict[str, Any] = {"server": body}
        if hints:
            request["os:scheduler_hints"] = hints
        created = self.ok("POST", "/servers", user, 202, json=request, version="2.79")
        if wait:
            return self.wait(created["server"]["id"], wait, user)
        return created["server"]

    def show(self, server_id: str, user: str = "demo", version: str = "2.79") -> dict[str, Any]:
        return self.ok("GET", f"/servers/{server_id}", user, version=version)["server"]

    def build_events(self, server_id: str) -> list[dict[str, Any]]:
        """The events of the server's create action that record builds on hosts (as an
        administrator sees them: with host and traceback)."""
        actions = self.ok("GET", f"/servers/{server_id}/os-instance-actions")["instanceActions"]
        create = next(a for a in actions if a["action"] == "create")
        path = f"/servers/{server_id}/os-instance-actions/{create['request_id']}"
        events = self.ok("GET", path, "admin", version="2.62")["instanceAction"]["events"]
        return [e for e in events if e["event"] == "compute__do_build_and_run_instance"]

    def wait(self, server_id: str, status: str, user: str = "demo") -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            server = self.show(server_id, user)
            if server["status"] == status and server["OS-EXT-STS:task_state"] is None:
                return server
            assert time.monotonic() < deadline, f"server is {server['status']}, not {status}"
            time.sleep(0.01)

    def action(
        self, server_id: str, body: dict[str, Any], user: str = "demo", **kw: Any
    ) -> httpx.Response:
        return self.call("POST", f"/servers/{server_id}/action", user, json=body, **kw)

    def wait_until_host(self, server_id: str) -> str:
        """Wait for the server to be handed to a host (while it still builds)."""
        deadline = time.monotonic() + 10
        while not (host := self.show(server_id, "admin")["OS-EXT-SRV-ATTR:host"]):
            assert time.monotonic() < deadline, "server got no host"
            time.sleep(0.01)
        return host

    def wait_gone(self, server_id: str, user: str = "demo") -> None:
        deadline = time.monotonic() + 10
        while self.call("GET", f"/servers/{server_id}", user).status_code != 404:
            assert time.monotonic() < deadline, "server was not deleted"
            time.sleep(0.01)


DriverFactory = Callable[[Config, ImageClient, ServiceClient, Bus], VirtDriver]


def make_env(
    cloud: Cloud,
    compute_tables: Path,
    tmp_path: Path,
    extra_config: str = "",
    network_region: str = "RegionOne",
    driver_factory: DriverFactory | None = None,
    database_url: str = "",
) -> Iterator[Env]:
    """A compute service (with the fake driver unless ``driver_factory`` makes another),
    on a copy of the migrated SQLite tables, or on the database ``database_url`` names."""
    bus = f"memory://compute-{uuid.uuid4().hex}"
    overrides = tmp_path / "stratus.conf.d"
    overrides.mkdir()
    if database_url:
        extra_config += f"\n[database]\nconnection = {database_url}\n"
    (overrides / "50-test.conf").write_text(extra_config)
    runtime = Runtime(_config(tmp_path, f"[DEFAULT]\ntransport_url = {bus}\n"))
    (tmp_path / "data").mkdir()
    if database_url:
        create_default_flavors(runtime)
    else:
        shutil.copy(compute_tables, tmp_path / "data" / compute_tables.name)
    conf = runtime.conf
    identity = IdentityClient(conf, "compute", http=cloud.identity)
    images = ImageClient(ServiceClient(identity, "image", "RegionOne", http=cloud.image))
    network = NetworkClient(ServiceClient(identity, "network", network_region, http=cloud.network))
    backend = Backend(
        conf, runtime.database("compute"), runtime.bus, default_policy(), images, network
    )
    parts = [build_scheduler(runtime), build_conductor(runtime)]
    driver = (
        driver_factory(conf, images, network.service, runtime.bus)
        if driver_factory
        else FakeDriver(conf)
    )
    agent = ComputeAgent(conf, runtime.bus, driver, Networking(network), images)
    for part in parts:
        part.start()
    agent.start()
    app = build_app(runtime, identity, backend=backend)
    with TestClient(app, base_url="http://127.0.0.1:8774", raise_server_exceptions=False) as client:
        yield Env(app, client, cloud, runtime, driver, agent, parts)
    agent.stop()
    for part in reversed(parts):
        part.stop()
    runtime.close()


@pytest.fixture
def env(cloud: Cloud, compute_tables: Path, tmp_path: Path) -> Iterator[Env]:
    yield from make_env(cloud, compute_tables, tmp_path)


@pytest.fixture
def netenv(cloud: Cloud, compute_tables: Path, tmp_path: Path) -> Iterator[Env]:
    """A compute service in the region whose catalog has the network service (whose
    ports, networks and security groups are removed after each test)."""
    yield from make_env(cloud, compute_tables, tmp_path, network_region=NETWORK_REGION)
    admin = {"X-Auth-Token": cloud.users["admin"].token}
    for kind, keep in (("ports", None), ("networks", None), ("security-groups", "default")):
        listed = cloud.network.get(f"/v2.0/{kind}", headers=admin).json()[kind.replace("-", "_")]
        for item in listed:
            if item.get("name") != keep:
                cloud.network.delete(f"/v2.0/{kind}/{item['id']}", headers=admin)
