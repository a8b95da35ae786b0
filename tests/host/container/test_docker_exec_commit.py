"""Execute in and commit a container on the real Docker Engine: output and exit codes,
and a committed container's tarball that runs again, with what was written into it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import docker
import docker.errors

from stratus.container.agent.docker import DockerDriver

if TYPE_CHECKING:
    from conftest import Made


def _running(driver: DockerDriver, made: Made, **fields: object) -> str:
    spec = made.spec(**fields)
    driver.create(spec, made.image_data)
    driver.start(spec["uuid"])
    deadline = time.monotonic() + 20
    while driver.states()[spec["uuid"]].status != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return spec["uuid"]


def test_execute_output_and_exit_codes(driver: DockerDriver, made: Made) -> None:
    uuid = _running(driver, made)
    output, code = driver.execute(uuid, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (sorted(output.splitlines()), code) == (["err", "out"], 3)  # both streams
    output, code = driver.execute(uuid, ["/no/such/binary"])
    assert code in (126, 127) and "no/such/binary" in output


def test_commit_then_run_the_committed_image(
    driver: DockerDriver, made: Made, docker_client: docker.DockerClient
) -> None:
    uuid = _running(driver, made)
    assert driver.execute(uuid, ["sh", "-c", "echo kept > /marker"])[1] == 0
    before = {image.id for image in docker_client.images.list(all=True)}
    tarball = b"".join(driver.commit(uuid, "stratus-test-snap", "v1"))
    after = {image.id for image in docker_client.images.list(all=True)}
    assert after <= before, "the committed image stays in Docker after it was saved"
    try:
        docker_client.images.get("stratus-test-snap:v1")
        raise AssertionError("the commit's tag stays in Docker")
    except docker.errors.ImageNotFound:
        pass

    snapshot = made.spec(command=["sleep", "60"])
    driver.create(snapshot, lambda: iter([tarball]))
    driver.start(snapshot["uuid"])
    assert driver.execute(snapshot["uuid"], ["cat", "/marker"]) == ("kept\n", 0)
