"""The Docker driver: images from a `docker save` tarball loaded once, containers with
their limits, actions, exits with their code, logs, top, stats, and an engine that is down."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import docker
import pytest

from stratus.container.agent.docker import (
    DockerDriver,
    ImageError,
    container_name,
    image_tag,
)
from stratus.container.agent.driver import ContainerMissing, DriverUnavailable, State

if TYPE_CHECKING:
    from conftest import Made


def settle(driver: DockerDriver, uuid: str, status: str) -> State:
    deadline = time.monotonic() + 20
    while True:
        state = driver.states().get(uuid)
        if state is not None and state.status == status:
            return state
        assert time.monotonic() < deadline, f"{uuid} never got to {status}: {state}"
        time.sleep(0.1)


def test_lifecycle_with_limits(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient
) -> None:
    spec = made.spec(
        command=["sh", "-c", "echo hello $GREETING; exec sleep 60"],
        environment={"GREETING": "world"},
        labels={"team": "a"},
        hostname="box",
        cpu=0.5,
        memory=64,
    )
    uuid = spec["uuid"]
    driver.create(spec, made.image_data)
    assert driver.states()[uuid].status == "Created"
    assert driver.state(uuid) == driver.states()[uuid]  # one inspect, the same state
    attrs = docker_client.containers.get(container_name(uuid)).attrs
    host_config = attrs["HostConfig"]
    assert host_config["Memory"] == 64 * 2**20
    assert (host_config["CpuQuota"], host_config["CpuPeriod"]) == (50_000, 100_000)
    assert host_config["NetworkMode"] == "none"
    assert attrs["Config"]["Hostname"] == "box"
    assert attrs["Config"]["Labels"]["team"] == "a"

    driver.start(uuid)
    settle(driver, uuid, "Running")
    deadline = time.monotonic() + 10
    while "hello world" not in driver.logs(uuid, True, True, False, "all", None):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    top = driver.top(uuid, None)
    assert any("sleep" in " ".join(p) for p in top["Processes"])
    stats = driver.stats(uuid)
    assert stats["MEM LIMIT(MiB)"] == 64.0

    driver.update(uuid, 1.0, 128)
    host_config = docker_client.containers.get(container_name(uuid)).attrs["HostConfig"]
    assert (host_config["Memory"], host_config["CpuQuota"]) == (128 * 2**20, 100_000)

    driver.pause(uuid)
    settle(driver, uuid, "Paused")
    driver.unpause(uuid)
    settle(driver, uuid, "Running")
    driver.stop(uuid, 1)
    stopped = settle(driver, uuid, "Stopped")
    assert stopped.detail is not None and stopped.detail.startswith("Exited (137)")
    driver.restart(uuid, 1)
    settle(driver, uuid, "Running")
    driver.kill(uuid, "SIGKILL")  # PID 1 ignores SIGTERM it has no handler for
    settle(driver, uuid, "Stopped")

    driver.delete(uuid)
    assert uuid not in driver.states()
    driver.delete(uuid)  # already gone: nothing to do
    with pytest.raises(ContainerMissing):
        driver.start(uuid)


def test_a_container_that_dies_is_stopped_with_its_exit_code(
    driver: DockerDriver, made: Made
) -> None:
    spec = made.spec(command=["sh", "-c", "exit 3"])
    driver.create(spec, made.image_data)
    driver.start(spec["uuid"])
    state = settle(driver, spec["uuid"], "Stopped")
    assert state.detail is not None and state.detail.startswith("Exited (3)")


def test_the_image_is_loaded_once_per_host(driver: DockerDriver, made: Made) -> None:
    first = made.spec()
    driver.create(first, made.image_data)
    second = made.spec(image_id=first["image_id"])
    driver.create(second, made.image_data)
    assert made.loads == 1
    assert {first["uuid"], second["uuid"]} <= driver.states().keys()


def test_an_image_no_container_uses_is_let_go_after_its_age(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient
) -> None:
    spec = made.spec()
    driver.create(spec, made.image_data)
    tag = image_tag(spec["image_id"])
    assert tag not in driver.forget_unused_images(0)  # its container uses it
    driver.delete(spec["uuid"])
    assert tag not in driver.forget_unused_images(3600)  # a create used it a moment ago
    time.sleep(0.01)
    assert tag in driver.forget_unused_images(0)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(tag)
    driver.create(made.spec(image_id=spec["image_id"]), made.image_data)  # loaded again
    assert made.loads == 2 and docker_client.images.get(tag)


def test_another_hosts_agent_never_sees_the_container(driver: DockerDriver, made: Made) -> None:
    """Two clouds (or two agent hosts) on one engine leave each other's containers alone."""
    spec = made.spec()
    driver.create(spec, made.image_data)
    other = DockerDriver(driver.url, f"{driver.host}-other")
    assert spec["uuid"] in driver.states()
    assert spec["uuid"] not in other.states()
    assert driver.state(spec["uuid"]) is not None
    assert other.state(spec["uuid"]) is None
    assert driver.state("no-such-uuid") is None


def test_image_driver_docker_uses_the_local_engine(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient
) -> None:
    driver.create(made.spec(), made.image_data)  # puts stratus/busybox into the engine
    spec = made.spec("docker", image="stratus/busybox:latest")
    driver.create(spec, made.image_data)
    assert driver.states()[spec["uuid"]].status == "Created"
    with pytest.raises(ImageError, match="not in the local Docker Engine"):
        driver.create(made.spec("docker", image="stratus/nothere:1"), made.image_data)


def test_a_bad_tarball_is_an_image_error(driver: DockerDriver, made: Made) -> None:
    with pytest.raises(ImageError):
        driver.create(made.spec(), lambda: iter([b"not a tarball"]))


def test_engine_unreachable_is_driver_unavailable(tmp_path: object) -> None:
    driver = DockerDriver("unix:///nonexistent/docker.sock", "node1", timeout=5)
    with pytest.raises(DriverUnavailable, match="Docker Engine"):
        driver.host_info()
    with pytest.raises(DriverUnavailable):
        driver.states()
    with pytest.raises(DriverUnavailable):
        driver.state("some-uuid")
    for action in (
        lambda: driver.execute("some-uuid", ["true"]),
        lambda: driver.commit("some-uuid", "snap", "latest"),
        lambda: driver.exec_create("some-uuid", ["sh"]),
        lambda: driver.open_stream("some-uuid", None),
    ):
        with pytest.raises(DriverUnavailable):
            action()
