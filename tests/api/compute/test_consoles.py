"""Serial consoles through the API and the serial proxy (part compute-serialproxy), on the
fake driver, whose consoles are TCP listeners that greet with the server's login line
and echo: the URL the API hands out opens the console once, and never after it expired,
was used, or its server went; the other console types and wrong states are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import websocket

from stratus.compute import serialproxy
from stratus.compute.conductor.manager import TOPIC as CONDUCTOR_TOPIC
from stratus.compute.models import ConsoleAuthToken
from stratus.runtime.db import utcnow
from stratus.testing.cloud import free_port
from tests.api.compute.conftest import Cloud, Env, make_env

SERIAL = {"remote_console": {"protocol": "serial", "type": "serial"}}  # what openstacksdk sends


@pytest.fixture
def env(cloud: Cloud, compute_tables: Path, tmp_path: Path) -> Iterator[Env]:
    """A compute service with its serial proxy on a free loopback port."""
    port = free_port()
    config = (
        f"[serial_console]\nserialproxy_host = 127.0.0.1\nserialproxy_port = {port}\n"
        f"base_url = ws://127.0.0.1:{port}/\n"
    )
    for made in make_env(cloud, compute_tables, tmp_path, config):
        proxy = serialproxy.build_part(made.runtime)
        proxy.start()
        try:
            yield made
        finally:
            proxy.stop()


def console_url(env: Env, server_id: str, body: dict[str, Any] = SERIAL, **kw: Any) -> str:
    response = env.call("POST", f"/servers/{server_id}/remote-consoles", json=body, **kw)
    assert response.status_code == 200, response.text
    console = response.json()["remote_console"]
    assert (console["protocol"], console["type"]) == ("serial", "serial")
    return console["url"]


def connect(url: str) -> websocket.WebSocket:
    """As novaconsole and websockify clients do: the binary subprotocol."""
    return websocket.create_connection(url, subprotocols=["binary", "base64"], timeout=10)


def read_until(ws: websocket.WebSocket, wanted: bytes) -> bytes:
    seen = b""
    while wanted not in seen:
        data = ws.recv()
        assert data, f"the console closed before {wanted!r}; saw {seen!r}"
        seen += data if isinstance(data, bytes) else data.encode()
    return seen


def assert_refused(url: str) -> None:
    ws = connect(url)
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1008, frame.data
    assert b"token" in frame.data
    ws.close()


def test_the_url_opens_the_servers_console_once(env: Env) -> None:
    server = env.boot(name="console-vm")
    url = console_url(env, server["id"], version="2.6")
    assert url.startswith(env.runtime.conf.serial_console.base_url + "?token=")
    ws = connect(url)
    assert ws.subprotocol == "binary"
    assert b"console-vm login:" in read_until(ws, b"login:")
    ws.send_binary(b"uptime\n")
    read_until(ws, b"uptime\n")  # the fake console echoes
    ws.close()
    assert_refused(url)  # spent
    second = console_url(env, server["id"], version="2.79")
    assert second != url
    ws = connect(second)
    read_until(ws, b"login:")
    ws.close()
    assert_refused(url.split("?")[0])  # no token at all


def test_the_legacy_action(env: Env) -> None:
    server = env.boot()
    response = env.action(server["id"], {"os-getSerialConsole": {"type": "serial"}})
    assert response.status_code == 200, response.text
    console = response.json()["console"]
    assert console["type"] == "serial"
    ws = connect(console["url"])
    read_until(ws, b"login:")
    ws.close()
    for action, kind in (("os-getVNCConsole", "novnc"), ("os-getSPICEConsole", "spice-html5")):
        refused = env.action(server["id"], {action: {"type": kind}})
        assert refused.status_code == 400 and "Unavailable console type" in refused.text
    mismatched = env.action(server["id"], {"os-getSerialConsole": {"type": "novnc"}})
    assert mismatched.status_code == 400 and "Invalid console type" in mismatched.text


def test_before_2_6_there_is_no_remote_consoles(env: Env) -> None:
    server = env.boot()
    path = f"/servers/{server['id']}/remote-consoles"
    for version in (None, "2.5"):
        response = env.call("POST", path, json=SERIAL, version=version)
        assert response.status_code == 404, response.text


def test_other_console_types_and_bad_bodies(env: Env) -> None:
    server = env.boot()
    path = f"/servers/{server['id']}/remote-consoles"
    for body, message in (
        ({"remote_console": {"protocol": "vnc", "type": "novnc"}}, "Unavailable console type"),
        ({"remote_console": {"protocol": "spice", "type": "spice-html5"}}, "Unavailable"),
        ({"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}, "Unavailable"),
        ({"remote_console": {"protocol": "mks", "type": "webmks"}}, "Unavailable"),
        ({"remote_console": {"protocol": "serial", "type": "novnc"}}, "Invalid console type"),
        ({"remote_console": {"protocol": "telnet", "type": "serial"}}, "protocol"),
        ({"remote_console": {"protocol": "serial"}}, "'remote_console.type' is required"),
        ({"remote_console": {**SERIAL["remote_console"], "port": 1}}, "not an allowed field"),
        ({}, "'remote_console' is required"),
    ):
        response = env.call("POST", path, json=body, version="2.8")
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["badRequest"]["message"], response.text
    mks_too_early = {"remote_console": {"protocol": "mks", "type": "webmks"}}
    assert env.call("POST", path, json=mks_too_early, version="2.6").status_code == 400
    with env.backend.db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsoleAuthToken)) == 0


def test_a_server_that_does_not_run_has_no_console(env: Env) -> None:
    server = env.boot()
    assert env.action(server["id"], {"os-stop": None}).status_code == 202
    env.wait(server["id"], "SHUTOFF")
    response = env.call(
        "POST", f"/servers/{server['id']}/remote-consoles", json=SERIAL, version="2.6"
    )
    assert response.status_code == 409 and "not ready" in response.text
    legacy = env.action(server["id"], {"os-getSerialConsole": {"type": "serial"}})
    assert legacy.status_code == 409
    theirs = env.call(
        "POST", f"/servers/{server['id']}/remote-consoles", "other", json=SERIAL, version="2.6"
    )
    assert theirs.status_code == 404
    missing = "/servers/6a0c2d3e-0000-4000-8000-00000000dead/remote-consoles"
    assert env.call("POST", missing, json=SERIAL, version="2.6").status_code == 404


def test_expired_tokens_and_tokens_of_deleted_servers_open_nothing(env: Env) -> None:
    server = env.boot()
    expired = console_url(env, server["id"], version="2.6")
    with env.backend.db.session() as session:
        session.execute(sa.update(ConsoleAuthToken).values(expires_at=utcnow()))
    assert_refused(expired)
    with env.backend.db.session() as session:  # swept when a token was claimed
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsoleAuthToken)) == 0
    unused = console_url(env, server["id"], version="2.6")
    assert env.call("DELETE", f"/servers/{server['id']}").status_code == 204
    env.wait_gone(server["id"])
    assert_refused(unused)


def test_a_token_opens_only_at_the_proxy_it_was_given_for(env: Env) -> None:
    """A proxy reaching consoles on its own host's loopback must never open another host's
    server's console: the conductor answers only the proxy of the token's URL."""
    server = env.boot()
    token = console_url(env, server["id"], version="2.6").split("token=")[1]
    bus = env.runtime.bus
    elsewhere = "ws://192.0.2.7:6083/"
    assert bus.call(CONDUCTOR_TOPIC, "claim_console", token=token, proxy_url=elsewhere) is None
    own = env.runtime.conf.serial_console.base_url
    assert bus.call(CONDUCTOR_TOPIC, "claim_console", token=token, proxy_url=own) is None  # spent
