"""The real ``openstack appcontainer`` client (python-zunclient's plugin) against the
container API served on a socket, with the agent on the real Docker Engine: exec shows
the output and exits with the command's code, commit makes an image in the image
service, the committed image runs with ``--image-driver glance``, and the actions
history lists and shows what was done; ``run --mount`` makes a local volume whose data
outlives a restart and goes with the container, and injects a file."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors
import pytest

from stratus.container.agent.docker import container_name
from stratus.container.agent.docker_mounts import volume_name
from stratus.testing import container
from stratus.testing.cloud import BIN, run_command
from stratus.testing.serve import serve

if TYPE_CHECKING:
    from stratus.testing.container import Env


Openstack = Callable[..., str]


@pytest.fixture
def openstack(env: Env, api_port: int, tmp_path: Path) -> Iterator[Openstack]:
    """``openstack appcontainer ARGS...`` as the demo user, with the APIs served: its
    output (``check=False``: ``"<exit code>:<output><errors>"``)."""
    with serve(env.identity.client.app) as identity_url, serve(env.app, port=api_port):
        cli_env = container.demo_cli_env(identity_url, tmp_path)

        def openstack(*args: str, check: bool = True) -> str:
            command = [str(BIN / "openstack"), "appcontainer", *args]
            result = run_command(command, check=check, env=cli_env)
            return result.stdout if check else f"{result.returncode}:{result.stdout}{result.stderr}"

        yield openstack


def test_exec_and_commit_with_the_openstack_client(
    env: Env, openstack: Openstack, docker_client: docker.DockerClient
) -> None:
    openstack("run", "--name", "con1", "busybox", "sleep", "600")
    con1 = env.wait_status("con1", "Running")["uuid"]
    shown = openstack("exec", "con1", "sh", "-c", "echo shown-$((1+1)); exit 3", check=False)
    assert shown.startswith("3:") and "shown-2" in shown, shown
    openstack("exec", "con1", "sh", "-c", "echo from-con1 > /marker")

    committed = openstack("commit", "con1", "snap:v1")
    image_id = re.search(r"The image is ([0-9a-f-]{36})", committed)
    assert image_id, committed
    env.wait(con1, lambda c: c["task_state"] is None, timeout=60)
    image = env.images.get(
        f"/v2/images/{image_id.group(1)}", headers=env.users["demo"].headers
    ).json()
    assert (image["status"], image["name"], image["tags"]) == ("active", "snap", ["v1"])

    openstack("run", "--image-driver", "glance", "--name", "again", "snap", "sleep", "600")
    again = env.wait_status("again", "Running")["uuid"]
    assert "from-con1" in openstack("exec", "again", "cat", "/marker")

    listed = json.loads(openstack("action", "list", "con1", "-f", "json"))
    assert [a["action"] for a in listed] == ["commit", "create"]
    request_id = listed[0]["request_id"]
    detail = json.loads(openstack("action", "show", "con1", request_id, "-f", "json"))
    assert detail["events"][0]["result"] == "Success", detail

    openstack("delete", "--stop", "con1", "again")
    for uuid in (con1, again):
        env.gone(uuid)
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(container_name(uuid))


def test_run_with_a_local_volume_and_a_file_with_the_openstack_client(
    env: Env, openstack: Openstack, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    config = tmp_path / "app.conf"
    config.write_text("listen 8080\n")
    openstack(
        "run",
        "--name",
        "vol1",
        "--mount",
        "destination=/data,size=1",
        "--mount",
        f"type=bind,source={config},destination=/etc/app.conf",
        "busybox",
        "sleep",
        "600",
    )
    uuid = env.wait_status("vol1", "Running")["uuid"]
    shown = json.loads(openstack("show", "vol1", "-f", "json"))
    assert shown["mounts"] == [
        {"type": "volume", "destination": "/data", "size": 1},
        {"type": "bind", "destination": "/etc/app.conf", "size": None},
    ]
    volume = docker_client.volumes.get(volume_name(uuid, 0))
    openstack("exec", "vol1", "sh", "-c", "echo kept > /data/file")
    openstack("restart", "vol1")
    env.wait(uuid, lambda c: c["status"] == "Running" and not c["task_state"], timeout=30)
    shown_files = openstack("exec", "vol1", "cat", "/data/file", "/etc/app.conf")
    assert shown_files.strip() == "kept\nlisten 8080", shown_files

    refused = openstack("run", "--mount", "source=vol-1,destination=/d", "busybox", check=False)
    assert refused.startswith("1:") and "need the volume service" in refused, refused

    openstack("delete", "--stop", "vol1")
    env.gone(uuid)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volume.name)
