"""The Stratus busybox container image: built by tools/build-container-image.sh, loaded from
its `docker save` tarball, runs a command with no network.

These tests need root and a Docker daemon (tools/start-daemons.sh starts one): where Docker
is missing they fail, they do not skip. The image is removed afterwards only if this test
put it into Docker; every container runs with --rm and a name the test removes anyway.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "stratus/busybox:latest"


def sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def docker_client() -> Iterator[docker.DockerClient]:
    proc = sh(str(ROOT / "tools/start-daemons.sh"), "dockerd")
    assert proc.returncode == 0, f"start-daemons.sh failed:\n{proc.stdout}\n{proc.stderr}"
    client = docker.from_env()
    yield client
    client.close()


def image_present(client: docker.DockerClient) -> bool:
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="module")
def tarball(docker_client: docker.DockerClient) -> Iterator[Path]:
    """Build the tarball with the real script, then take the image out of Docker again
    if it was not there before, so that the test below loads it from the tarball."""
    had_image = image_present(docker_client)
    out = Path(tempfile.mkdtemp(prefix="stratus-container-test-"))
    try:
        proc = sh(str(ROOT / "tools/build-container-image.sh"), str(out))
        assert proc.returncode == 0, (
            f"build-container-image.sh failed:\n{proc.stdout}\n{proc.stderr}"
        )
        if not had_image:
            docker_client.images.remove(IMAGE)
        yield out / "busybox.tar"
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def loaded_image(docker_client: docker.DockerClient, tarball: Path) -> Iterator[str]:
    """`docker load` the tarball; remove the image afterwards only if this loaded it."""
    loaded_here = not image_present(docker_client)
    proc = sh("docker", "load", "-i", str(tarball))
    assert proc.returncode == 0, f"docker load failed: {proc.stderr}"
    assert IMAGE in proc.stdout or not loaded_here, proc.stdout
    try:
        yield IMAGE
    finally:
        if loaded_here:
            docker_client.images.remove(IMAGE)


def run_container(*args: str) -> subprocess.CompletedProcess[str]:
    """`docker run --rm --network none` under a name of our own, removed whatever happens."""
    name = f"stratus-test-{secrets.token_hex(3)}"
    try:
        return sh("docker", "run", "--rm", "--name", name, "--network", "none", *args)
    finally:
        sh("docker", "rm", "-f", name)


def test_loaded_image_runs_echo_without_network(loaded_image: str) -> None:
    proc = run_container("stratus/busybox", "echo", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hi\n"


def test_image_is_busybox_with_sh_as_command(
    docker_client: docker.DockerClient, loaded_image: str, tarball: Path
) -> None:
    image = docker_client.images.get(loaded_image)
    assert image.attrs["Config"]["Cmd"] == ["sh"]
    assert image.attrs["Os"] == "linux"
    # One layer, small: busybox and a few files.
    assert image.attrs["Size"] < 8 * 2**20
    manifest = json.loads((tarball.parent / "busybox.json").read_text())
    entry = manifest["images"][0]
    assert (entry["name"], entry["tag"], entry["container_format"]) == (
        "stratus/busybox",
        "latest",
        "docker",
    )
    assert entry["image_id"] == image.id
    assert entry["size"] == tarball.stat().st_size
    # The shell and the applets the rest of the test suite relies on are there.
    script = "id -u; test -d /tmp && test -f /etc/passwd && which ip wget nc udhcpc"
    proc = run_container(loaded_image, "sh", "-c", script)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[0] == "0"
    assert len(lines) == 5, lines
