"""Attach, interactive exec and resize: the API hands out the host's websocket proxy URL
with a token the proxy of that host can claim once; the sizes reach the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from stratus.container.rpc import CONDUCTOR_TOPIC

if TYPE_CHECKING:
    from conftest import Env


def _token(url: str) -> str:
    assert url.startswith("ws://127.0.0.1:6784/?token="), url
    return parse_qs(urlsplit(url).query)["token"][0]


def _claim(env: Env, token: str, hostname: str = "node1") -> dict | None:
    return env.agent.bus.call(CONDUCTOR_TOPIC, "claim_console", token=token, hostname=hostname)


def test_attach_url_and_resize(env: Env) -> None:
    env.image()
    uuid = env.run(interactive=True, tty=True, command=["sh"])["uuid"]
    env.wait_status(uuid, "Running")
    response = env.call("GET", f"/v1/containers/{uuid}/attach")
    assert response.status_code == 200, response.text
    token = _token(response.json())
    assert _claim(env, token, "node2") is None  # another host's proxy: refused, and spent
    again = _token(env.call("GET", f"/v1/containers/{uuid}/attach").json())
    assert _claim(env, again) == {"uuid": uuid, "exec_id": None}
    assert _claim(env, again) is None
    assert env.call("POST", f"/v1/containers/{uuid}/resize?h=30&w=100").status_code == 200
    assert env.driver.containers[uuid]["size"] == (30, 100)


def test_interactive_exec_and_its_resize(env: Env) -> None:
    env.image()
    uuid = env.run(interactive=True, tty=True, command=["sh"])["uuid"]
    env.wait_status(uuid, "Running")
    path = f"/v1/containers/{uuid}/execute?run=False&interactive=True&command=%22sh%22"
    response = env.call("POST", path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["output"] is None and body["exit_code"] is None
    assert env.driver.containers[uuid]["execs"] == [["sh"]]
    assert _claim(env, _token(body["proxy_url"])) == {"uuid": uuid, "exec_id": body["exec_id"]}
    resize = f"/v1/containers/{uuid}/execute_resize?exec_id={body['exec_id']}&w=80&h=24"
    assert env.call("POST", resize).status_code == 200
    assert env.driver.containers[uuid]["exec_size"] == (24, 80)


def test_bad_attach_and_resize(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    plain = env.call("GET", f"/v1/containers/{uuid}/attach")
    assert plain.status_code == 400 and "tty" in plain.json()["errors"][0]["detail"]
    for query in ("", "?h=0&w=10", "?h=x&w=10"):
        assert env.call("POST", f"/v1/containers/{uuid}/resize{query}").status_code == 400
    no_exec = env.call("POST", f"/v1/containers/{uuid}/execute_resize?h=1&w=1")
    assert no_exec.status_code == 400
    assert env.call("GET", f"/v1/containers/{uuid}/attach", "other").status_code == 404
    reader = env.call("GET", f"/v1/containers/{uuid}/attach", "reader")
    assert reader.status_code == 403
