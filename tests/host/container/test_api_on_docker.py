"""The container API with an agent on the real Docker Engine and the real websocket
proxy: exec with output and exit code, attach and interactive exec through the proxy
(websocket-client, as python-zunclient uses it), resize, commit into the image service
then run the committed image, and a capsule whose two containers share one network
namespace; deleting leaves no container or sandbox behind.

The agent's host is reported as the agent reports it, but the agent does not
reconcile here: a reconciliation removes every Stratus container no record wants, and
other tests on this host may hold some."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import docker
import docker.errors
import pytest
import websocket

from stratus.container.agent.docker import container_name, sandbox_name
from stratus.testing.container import Env


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
