"""The container API with an agent on the real Docker Engine and the real websocket
proxy: exec with output and exit code, attach and interactive exec through the proxy
(websocket-client, as python-zunclient uses it), resize, commit into the image service
then run the committed image, and a capsule whose two containers share one network
namespace; deleting leaves no container or sandbox behind.

The agent's host is reported as the agent reports it, but the agent does not
reconcile here: a reconciliation removes every Stratus container no record wants, and
other tests on this host may hold some."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import docker
import docker.errors
import pytest
import websocket

from stratus.container.agent.docker import (
    IMAGE_REPO,
    DockerDriver,
    container_name,
    sandbox_name,
)
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.container.wsproxy import WebsocketProxy
from stratus.testing import container
from stratus.testing.container import HOST, Env
from stratus.testing.identity import InProcessIdentity

IMAGE = "stratus/busybox:latest"  # the tag the tarball carries, which loading it restores


def _present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessIdentity]:
    identity = container.identity(tmp_path_factory.mktemp("identity"))
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/"
    driver = DockerDriver("unix:///var/run/docker.sock")
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


def _remove_leftovers(env: Env, client: docker.DockerClient) -> None:
    """Whatever a failed test left in Docker: its containers, sandboxes, loaded images."""
    found = env.call("GET", "/v1/containers?all_projects=True", "admin").json()["containers"]
    capsules = env.call("GET", "/v1/capsules?all_projects=True", "admin").json()["capsules"]
    names = [container_name(c["uuid"]) for c in found]
    names += [sandbox_name(c["uuid"]) for c in capsules]
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)
    admin = env.users["admin"].headers
    for image in env.images.get("/v2/images", headers=admin).json()["images"]:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(f"{IMAGE_REPO}/{image['id']}:latest")


def _stream(url: str) -> websocket.WebSocket:
    return websocket.create_connection(url, subprotocols=["binary", "base64"], timeout=10)


def _read_until(ws: websocket.WebSocket, wanted: str) -> None:
    seen = ""
    deadline = time.monotonic() + 10
    while wanted not in seen:
        assert time.monotonic() < deadline, f"never saw {wanted!r} in {seen!r}"
        data = ws.recv()
        seen += data.decode(errors="replace") if isinstance(data, bytes) else data


def _execute(env: Env, ident: str, *argv: str, **flags: str) -> dict[str, Any]:
    command = quote(" ".join(f'"{arg}"' for arg in argv))  # as python-zunclient sends it
    query = "".join(f"&{k}={v}" for k, v in flags.items())
    response = env.call("POST", f"/v1/containers/{ident}/execute?command={command}{query}")
    assert response.status_code == 200, response.text
    return response.json()


def _delete(env: Env, ident: str, docker_client: docker.DockerClient) -> None:
    assert env.call("DELETE", f"/v1/containers/{ident}?stop=True").status_code == 204
    env.gone(ident)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_name(ident))


def test_exec_attach_resize_commit_and_run_the_commit(
    env: Env, docker_client: docker.DockerClient
) -> None:
    con1 = env.run(name="con1", command=["sh"], interactive=True, tty=True)["uuid"]
    env.wait_status(con1, "Running")

    done = _execute(env, "con1", "sh", "-c", "echo out; exit 3", run="True")
    assert (done["output"], done["exit_code"]) == ("out\n", 3)

    attach = env.call("GET", "/v1/containers/con1/attach")
    assert attach.status_code == 200, attach.text
    ws = _stream(attach.json())
    ws.send_binary(b"echo via-proxy-$((6*7)) > /marker; cat /marker\n")
    _read_until(ws, "via-proxy-42")
    ws.close()
    assert env.call("POST", "/v1/containers/con1/resize?h=30&w=90").status_code == 200

    started = _execute(env, "con1", "sh", interactive="True", run="False")
    ws = _stream(started["proxy_url"])
    resize = f"/v1/containers/con1/execute_resize?exec_id={started['exec_id']}&h=33&w=99"
    ws.send_binary(b"echo ready\n")
    _read_until(ws, "ready")
    assert env.call("POST", resize).status_code == 200
    ws.send_binary(b"stty size\n")
    _read_until(ws, "33 99")
    ws.close()

    committed = env.call("POST", "/v1/containers/con1/commit?repository=snap&tag=v1")
    assert committed.status_code == 202, committed.text
    env.wait(con1, lambda c: c["task_state"] is None, timeout=60)
    image = env.images.get(
        f"/v2/images/{committed.json()['uuid']}", headers=env.users["demo"].headers
    ).json()
    assert image["status"] == "active" and image["size"] > 0, image
    with pytest.raises(docker.errors.ImageNotFound):  # the commit itself is not kept
        docker_client.images.get("snap:v1")

    again = env.run(name="again", image="snap")["uuid"]
    env.wait_status(again, "Running")
    assert _execute(env, "again", "cat", "/marker")["output"] == "via-proxy-42\n"
    history = env.call("GET", "/v1/containers/con1/container_actions").json()
    assert [a["action"] for a in history["containerActions"]] == ["commit", "create"]
    for ident in (con1, again):
        _delete(env, ident, docker_client)


def test_capsule_shares_one_network_namespace(env: Env, docker_client: docker.DockerClient) -> None:
    server = {
        "image": "busybox",
        "command": ["sh", "-c"],
        "args": ["echo capsule-ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"],
    }
    sidecar = {"image": "busybox", "command": ["sleep", "60"]}
    name = f"pod-{uuid.uuid4().hex[:6]}"
    template = {
        "kind": "capsule",
        "metadata": {"name": name},
        "spec": {"containers": [server, sidecar]},
    }
    response = env.call("POST", "/v1/capsules/", json={"template": template})
    assert response.status_code == 202, response.text
    capsule = response.json()
    web, side = (c["uuid"] for c in capsule["containers"])
    for member in (web, side):
        env.wait_status(member, "Running")
    assert env.call("GET", f"/v1/capsules/{name}").json()["status"] == "Running"
    deadline = time.monotonic() + 10
    while (result := _execute(env, side, "wget", "-qO-", "http://127.0.0.1:8080/"))["exit_code"]:
        assert time.monotonic() < deadline, result
        time.sleep(0.2)
    assert result["output"] == "capsule-ok\n"

    assert env.call("DELETE", f"/v1/capsules/{name}").status_code == 204
    for member in (web, side):
        env.gone(member)
    assert env.call("GET", f"/v1/capsules/{name}").status_code == 404
    for leftover in (container_name(web), container_name(side), sandbox_name(capsule["uuid"])):
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(leftover)
