"""The container API against the real identity, image and network services, with an agent
on the in-process bus driving an engine (the in-memory one for API tests, Docker for host
tests), for tests: fresh databases and a bus per :func:`open_env`."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stratus.container.agent.driver import Driver
from stratus.container.agent.manager import ContainerAgent
from stratus.container.api import build_app
from stratus.container.images import ImageClient
from stratus.container.rpc import AGENT_TOPIC
from stratus.identity.bootstrap import CatalogEntry
from stratus.image.api import build_app as build_image_app
from stratus.network.api import build_app as build_network_app
from stratus.network.api import make_backend as make_network_backend
from stratus.runtime import migrations
from stratus.runtime.clients.catalog import ServiceClient
from stratus.runtime.clients.network import NetworkApi
from stratus.runtime.config import Config
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime
from stratus.testing.identity import PASSWORD, InProcessIdentity, User, start_identity

ZUN_PASSWORD = "zun-secret"
GLANCE_PASSWORD = "glance-secret"
NEUTRON_PASSWORD = "neutron-secret"
IMAGE_URL = "http://127.0.0.1:9292"
NETWORK_URL = "http://127.0.0.1:9696"
HOST = "node1"
CONSOLE_URL = "ws://127.0.0.1:6784/"


def config(root: Path, transport: str) -> Config:
    path = root / "stratus.conf"
    path.write_text(
        f"[DEFAULT]\ndata_dir = {root / 'data'}\ntransport_url = {transport}\n"
        f"[container]\nservice_password = {ZUN_PASSWORD}\n"
        f"[image]\nservice_password = {GLANCE_PASSWORD}\n"
        f"[network]\nservice_password = {NEUTRON_PASSWORD}\n"
        "[ml2_type_vxlan]\nvni_ranges = 1:1000\n"
    )
    return Config(path)


def identity(root: Path, container_url: str = "http://127.0.0.1:9517") -> InProcessIdentity:
    """Identity bootstrapped with the image, network and container services' users (the
    catalog lists the container API at ``container_url``, for real clients)."""
    return start_identity(
        root,
        {"zun": ZUN_PASSWORD, "glance": GLANCE_PASSWORD, "neutron": NEUTRON_PASSWORD},
        [
            CatalogEntry("image", "glance", IMAGE_URL),
            CatalogEntry("network", "neutron", NETWORK_URL),
            CatalogEntry("container", "zun", f"{container_url}/v1"),
        ],
    )


def migrated_tables(root: Path) -> list[Path]:
    """Image, network and container databases migrated once, for :func:`open_env` to copy."""
    runtime = Runtime(config(root, "memory://template"))
    paths = []
    for service in ("image", "network", "container"):
        database = runtime.database(service)
        migrations.upgrade(service, database)
        paths.append(Path(database.url.removeprefix("sqlite:///")))
    runtime.close()
    return paths


@dataclass
class Env:
    app: FastAPI
    client: TestClient
    images: TestClient
    network: TestClient
    identity: InProcessIdentity
    driver: Any
    agent: ContainerAgent

    @property
    def users(self) -> dict[str, User]:
        return self.identity.users

    def call(
        self, method: str, path: str, user: str = "demo", version: str = "1.40", **kwargs: Any
    ) -> httpx.Response:
        headers = {
            **self.users[user].headers,
            "OpenStack-API-Version": f"container {version}",
            **kwargs.pop("headers", {}),
        }
        return self.client.request(method, path, headers=headers, **kwargs)

    def image(
        self,
        name: str = "busybox",
        user: str = "admin",
        data: bytes = b"not really a docker save tarball",
        **body: Any,
    ) -> str:
        """A docker-format image with ``data`` in the image service."""
        headers = self.users[user].headers
        fields = {"name": name, "container_format": "docker", "disk_format": "raw"}
        fields |= {"visibility": "public", **body}
        response = self.images.post("/v2/images", json=fields, headers=headers)
        assert response.status_code == 201, response.text
        image_id = response.json()["id"]
        upload = self.images.put(
            f"/v2/images/{image_id}/file",
            content=data,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 204, upload.text
        return image_id

    def run(self, user: str = "demo", run: bool = True, **body: Any) -> dict[str, Any]:
        body.setdefault("image", "busybox")
        body.setdefault("command", ["sleep", "60"])
        response = self.call("POST", f"/v1/containers?run={run}", user, json=body)
        assert response.status_code == 202, response.text
        return response.json()

    def show(self, ident: str, user: str = "demo") -> dict[str, Any]:
        response = self.call("GET", f"/v1/containers/{ident}", user)
        assert response.status_code == 200, response.text
        return response.json()

    def wait(
        self,
        ident: str,
        check: Callable[[dict[str, Any]], bool],
        user: str = "demo",
        timeout: float = 10,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            container = self.show(ident, user)
            if check(container):
                return container
            assert time.monotonic() < deadline, f"container never got there: {container}"
            time.sleep(0.01)

    def wait_status(self, ident: str, status: str, user: str = "demo") -> dict[str, Any]:
        return self.wait(
            ident, lambda c: c["status"] == status and not c["task_state"], user, timeout=30
        )

    def gone(self, ident: str, user: str = "demo") -> None:
        deadline = time.monotonic() + 30
        while self.call("GET", f"/v1/containers/{ident}", user).status_code != 404:
            assert time.monotonic() < deadline, f"container {ident} was never deleted"
            time.sleep(0.01)

    def wait_for_host(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            hosts = self.call("GET", "/v1/hosts", "admin").json()["hosts"]
            if hosts and check(hosts[0]):
                return hosts[0]
            assert time.monotonic() < deadline, f"the host never got there: {hosts}"
            time.sleep(0.01)

    def report(self) -> None:
        """One agent pass, and wait until the API has recorded the host."""
        self.agent.reconcile()
        self.wait_for_host(lambda host: True)


@contextmanager
def open_env(
    identity: InProcessIdentity,
    tables: list[Path],
    root: Path,
    driver: Driver,
    console_url: str = CONSOLE_URL,
) -> Iterator[Env]:
    """The API (and the image and network APIs) over in-process HTTP, and the agent of
    host :data:`HOST` on the bus (not yet reported: call :meth:`Env.report` or report it)."""
    runtime = Runtime(config(root, f"memory://{uuid.uuid4()}"))
    (root / "data").mkdir()
    for table in tables:
        shutil.copy(table, root / "data" / table.name)
    image_validator = IdentityClient(runtime.conf, "image", http=identity.client)
    image_app = build_image_app(runtime, image_validator)
    network_validator = IdentityClient(runtime.conf, "network", http=identity.client)
    network_backend = make_network_backend(runtime, lambda: runtime.bus)
    network_app = build_network_app(network_backend, network_validator)
    with (
        TestClient(image_app, base_url=IMAGE_URL, raise_server_exceptions=False) as images,
        TestClient(network_app, base_url=NETWORK_URL, raise_server_exceptions=False) as network,
    ):
        validator = IdentityClient(runtime.conf, "container", http=identity.client)
        image_client = ImageClient(IMAGE_URL, http=images)
        network_api = NetworkApi(ServiceClient(validator, "network", "RegionOne", http=network))
        app = build_app(runtime, validator, images=image_client, network=network_api)
        agent = ContainerAgent(
            runtime.bus,
            driver,
            HOST,
            "nova",
            lambda image_id: lambda: image_client.download(image_id, identity.users["admin"].token),
            images=image_client,
            console_url=console_url,
        )
        listener = runtime.bus.serve(AGENT_TOPIC, agent, host=HOST)
        base = "http://127.0.0.1:9517"
        try:
            with TestClient(app, base_url=base, raise_server_exceptions=False) as client:
                yield Env(app, client, images, network, identity, driver, agent)
        finally:
            listener.stop()
            runtime.close()


def demo_cli_env(identity_url: str, home: Path) -> dict[str, str]:
    """The environment that points the real ``openstack`` client at ``identity_url`` as
    the demo user (and nothing of the caller's own ``OS_*`` settings)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
        "OS_AUTH_URL": f"{identity_url}/v3",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": "demo",
        "OS_PASSWORD": PASSWORD,
        "OS_PROJECT_NAME": "demo",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_REGION_NAME": "RegionOne",
        "HOME": str(home),
    }


def agent_spec(**fields: Any) -> dict[str, Any]:
    """A container as the API casts it to an agent: busybox from the engine, sleeping,
    with ``fields`` over that."""
    return {
        "uuid": str(uuid.uuid4()),
        "image": "busybox",
        "image_driver": "docker",
        "image_id": None,
        "command": ["sleep", "60"],
        "entrypoint": None,
        "cpu": 0.5,
        "memory": 64,
        "environment": {},
        "labels": {},
        "workdir": None,
        "hostname": None,
        "restart_policy": None,
        "interactive": False,
        "tty": False,
        "auto_remove": False,
        **fields,
    }
