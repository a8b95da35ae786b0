"""The Docker driver against the real Docker Engine, with the Stratus busybox image built
by tools/build-container-image.sh. Needs root and Docker (started with
tools/start-daemons.sh); fails, never skips, without them.

Every container a test makes carries the driver's label and a uuid the test recorded, and
is removed afterwards whatever happened, with its volumes; the image tags the driver adds
are removed too, and ``stratus/busybox:latest`` only if it was not in Docker before."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from stratus.container.agent.docker import (
    LABEL,
    DockerDriver,
    container_name,
    image_tag,
    sandbox_name,
)
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.container.wsproxy import WebsocketProxy
from stratus.testing import container
from stratus.testing.cloud import free_port
from stratus.testing.container import HOST, Env, agent_spec
from stratus.testing.identity import InProcessIdentity

ROOT = Path(__file__).resolve().parents[3]
IMAGE = "stratus/busybox:latest"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    proc = subprocess.run(
        [str(ROOT / "tools/start-daemons.sh"), "dockerd"], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"start-daemons.sh failed:\n{proc.stdout}\n{proc.stderr}"
    client = docker.from_env()
    yield client
    client.close()


def _present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="session")
def tarball(docker_client: docker.DockerClient) -> Iterator[Path]:
    """The busybox tarball; the image is taken out of Docker again if the build put it there."""
    had_image = _present(docker_client, IMAGE)
    out = Path(tempfile.mkdtemp(prefix="stratus-container-driver-"))
    try:
        proc = subprocess.run(
            [str(ROOT / "tools/build-container-image.sh"), str(out)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, f"build failed:\n{proc.stdout}\n{proc.stderr}"
        if not had_image:
            docker_client.images.remove(IMAGE)
        yield out / "busybox.tar"
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Made:
    """What one test made in Docker, removed at its end."""

    def __init__(self, client: docker.DockerClient, tarball: Path) -> None:
        self.client = client
        self.tarball = tarball
        self.uuids: list[str] = []
        self.image_ids: list[str] = []
        self.loads = 0

    def spec(self, image_driver: str = "glance", **fields: Any) -> dict[str, Any]:
        image_id = fields.pop("image_id", None) or str(uuid.uuid4())
        if image_driver == "glance" and image_id not in self.image_ids:
            self.image_ids.append(image_id)
        glance_id = image_id if image_driver == "glance" else None
        made = agent_spec(image_driver=image_driver, image_id=glance_id, **fields)
        self.uuids.append(made["uuid"])
        return made

    def image_data(self) -> Iterator[bytes]:
        self.loads += 1
        with self.tarball.open("rb") as data:
            while chunk := data.read(1024 * 1024):
                yield chunk

    def clean(self) -> None:
        for container_uuid in self.uuids:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(container_name(container_uuid)).remove(force=True)
            remove_volumes(self.client, container_uuid)
        for image_id in self.image_ids:
            with contextlib.suppress(docker.errors.ImageNotFound):
                self.client.images.remove(image_tag(image_id))


@pytest.fixture
def made(docker_client: docker.DockerClient, tarball: Path) -> Iterator[Made]:
    had_image = _present(docker_client, IMAGE)
    made = Made(docker_client, tarball)
    try:
        yield made
    finally:
        made.clean()
        if not had_image and _present(docker_client, IMAGE):
            docker_client.images.remove(IMAGE)


@pytest.fixture
def driver(docker_client: docker.DockerClient) -> DockerDriver:
    return DockerDriver("unix:///var/run/docker.sock", HOST)


@pytest.fixture(scope="session")
def api_port() -> int:
    """Where a test serves the container API to real clients (the catalog says so)."""
    return free_port()


@pytest.fixture(scope="session")
def identity(
    tmp_path_factory: pytest.TempPathFactory, api_port: int
) -> Iterator[InProcessIdentity]:
    root = tmp_path_factory.mktemp("identity")
    identity = container.identity(root, container_url=f"http://127.0.0.1:{api_port}")
    yield identity
    identity.close()


@pytest.fixture
def env(
    identity: InProcessIdentity,
    tmp_path: Path,
    tarball: Path,
    docker_client: docker.DockerClient,
) -> Iterator[Env]:
    (tmp_path / "template").mkdir()
    tables = container.migrated_tables(tmp_path / "template")
    port = free_port()
    url = f"ws://127.0.0.1:{port}/"
    driver = DockerDriver("unix:///var/run/docker.sock", HOST)
    had_image = _present(docker_client, IMAGE)
    (tmp_path / "env").mkdir()
    with container.open_env(identity, tables, tmp_path / "env", driver, url) as env:
        proxy = WebsocketProxy(env.agent.bus, driver, HOST, "127.0.0.1", port)
        proxy.start()
        info = driver.host_info()
        env.agent.bus.cast(
            CONDUCTOR_TOPIC,
            "report_host",
            hostname=HOST,
            zone="nova",
            cpus=info.cpus,
            memory_mb=info.memory_mb,
            driver_status=None,
            console_url=url,
        )
        env.wait_for_host(lambda host: True)
        env.image(data=tarball.read_bytes())
        try:
            yield env
        finally:
            proxy.stop()
            _remove_leftovers(env, docker_client)
            if not had_image and _present(docker_client, IMAGE):  # loading tagged it
                docker_client.images.remove(IMAGE)


def remove_volumes(client: docker.DockerClient, container_uuid: str) -> None:
    """The Docker volumes the driver made for the container."""
    for volume in client.volumes.list(filters={"label": f"{LABEL}={container_uuid}"}):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)


def _remove_leftovers(env: Env, client: docker.DockerClient) -> None:
    """Whatever a failed test left in Docker: its containers, sandboxes, volumes, loaded
    images."""
    found = env.call("GET", "/v1/containers?all_projects=True", "admin").json()["containers"]
    capsules = env.call("GET", "/v1/capsules?all_projects=True", "admin").json()["capsules"]
    names = [container_name(c["uuid"]) for c in found]
    names += [sandbox_name(c["uuid"]) for c in capsules]
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)
    for found_container in found:
        remove_volumes(client, found_container["uuid"])
    admin = env.users["admin"].headers
    for image in env.images.get("/v2/images", headers=admin).json()["images"]:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image_tag(image["id"]))
