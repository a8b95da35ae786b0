"""Mounts on the real Docker Engine: a local volume per ``volume`` mount, labelled with
its container and host, whose data outlives a restart of the container and which goes
with it; a ``bind`` mount's file written in before the container starts; volumes whose
container is gone are found and removed."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import docker
import docker.errors
import pytest

from stratus.container.agent.docker import HOST_LABEL, LABEL, DockerDriver, container_name
from stratus.container.agent.docker_mounts import SIZE_LABEL, volume_name
from tests.host.container.test_docker_driver import settle

if TYPE_CHECKING:
    from conftest import Made


def test_a_volume_keeps_what_is_written_across_a_restart_and_goes_with_the_container(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient
) -> None:
    config = base64.b64encode(b"listen 8080\n").decode()
    spec = made.spec(
        command=["sleep", "600"],
        mounts=[
            {"type": "volume", "destination": "/data", "size": 1},
            {"type": "bind", "destination": "/etc/app/app.conf", "source": config},
        ],
    )
    uuid = spec["uuid"]
    driver.create(spec, made.image_data)
    volume = docker_client.volumes.get(volume_name(uuid, 0))
    assert volume.attrs["Driver"] == "local"
    assert volume.attrs["Labels"] == {LABEL: uuid, HOST_LABEL: driver.host, SIZE_LABEL: "1"}
    attrs = docker_client.containers.get(container_name(uuid)).attrs
    assert [(m["Type"], m["Name"], m["Destination"], m["RW"]) for m in attrs["Mounts"]] == [
        ("volume", volume.name, "/data", True)
    ]
    assert uuid in driver.volume_owners()

    driver.start(uuid)
    settle(driver, uuid, "Running")
    assert driver.execute(uuid, ["sh", "-c", "echo kept > /data/file"]) == ("", 0)
    assert driver.execute(uuid, ["cat", "/etc/app/app.conf"]) == ("listen 8080\n", 0)
    driver.restart(uuid, 1)
    settle(driver, uuid, "Running")
    assert driver.execute(uuid, ["cat", "/data/file"]) == ("kept\n", 0)
    driver.stop(uuid, 1)
    settle(driver, uuid, "Stopped")
    driver.start(uuid)
    settle(driver, uuid, "Running")
    assert driver.execute(uuid, ["cat", "/data/file", "/etc/app/app.conf"]) == (
        "kept\nlisten 8080\n",
        0,
    )

    driver.delete(uuid)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volume.name)
    assert uuid not in driver.volume_owners()


def test_a_create_redone_keeps_the_volume_and_its_data(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient
) -> None:
    """A container gone from the engine behind the agent's back leaves its volume (the
    record may still want it); a create of it again mounts the same data, and only a
    delete removes the volume."""
    spec = made.spec(mounts=[{"type": "volume", "destination": "/data", "size": 2}])
    uuid = spec["uuid"]
    driver.create(spec, made.image_data)
    driver.start(uuid)
    settle(driver, uuid, "Running")
    driver.execute(uuid, ["sh", "-c", "echo first > /data/file"])
    docker_client.containers.get(container_name(uuid)).remove(force=True)
    assert uuid not in driver.states() and uuid in driver.volume_owners()
    other = DockerDriver(driver.url, f"{driver.host}-other")
    assert uuid not in other.volume_owners()  # another host's agent leaves it alone

    driver.create(spec, made.image_data)
    driver.start(uuid)
    settle(driver, uuid, "Running")
    assert driver.execute(uuid, ["cat", "/data/file"]) == ("first\n", 0)
    docker_client.containers.get(container_name(uuid)).remove(force=True)
    driver.delete(uuid)  # the container is gone already: its volume still goes
    assert uuid not in driver.volume_owners()
    assert docker_client.volumes.list(filters={"label": f"{LABEL}={uuid}"}) == []
