"""A capsule on the real Docker Engine: two containers in one sandbox's network
namespace (the second reaches the first's listening socket on 127.0.0.1), and the
sandbox goes with the capsule's last container."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import docker
import docker.errors
import pytest

from stratus.container.agent.docker import DockerDriver, container_name, sandbox_name

if TYPE_CHECKING:
    from conftest import Made


@pytest.fixture
def capsule_id(docker_client: docker.DockerClient) -> Iterator[str]:
    capsule_id = str(uuid.uuid4())
    yield capsule_id
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(sandbox_name(capsule_id)).remove(force=True)


def test_two_containers_share_one_network_namespace(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient, capsule_id: str
) -> None:
    server = made.spec(
        capsule_id=capsule_id,
        command=["sh", "-c", "echo capsule-ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"],
    )
    client = made.spec(capsule_id=capsule_id, image_id=server["image_id"])
    for spec in (server, client):
        driver.create(spec, made.image_data)
        driver.start(spec["uuid"])
    sandbox = docker_client.containers.get(sandbox_name(capsule_id))
    assert sandbox.status == "running"
    for spec in (server, client):
        attrs = docker_client.containers.get(container_name(spec["uuid"])).attrs
        assert attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"
    assert set(driver.states()) >= {server["uuid"], client["uuid"]}  # the sandbox is no record's
    assert sandbox.labels.get("org.openstack.stratus.container") is None
    deadline = time.monotonic() + 10
    while True:
        output, code = driver.execute(client["uuid"], ["wget", "-qO-", "http://127.0.0.1:8080/"])
        if code == 0:
            break
        assert time.monotonic() < deadline, output
        time.sleep(0.2)
    assert output == "capsule-ok\n"

    driver.delete(server["uuid"])
    assert docker_client.containers.get(sandbox_name(capsule_id)).status == "running"
    driver.delete(client["uuid"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(sandbox_name(capsule_id))
