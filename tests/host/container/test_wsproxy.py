"""The websocket proxy on the real Docker Engine, reached the way python-zunclient does
(websocket-client asking for the binary subprotocol): attach to a container's tty, an
interactive exec and its resize, and tokens that are single-use and bound to a host."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import websocket

from stratus.container import consoles
from stratus.container.agent.docker import DockerDriver
from stratus.container.rpc import CONDUCTOR_TOPIC, Conductor
from stratus.container.wsproxy import WebsocketProxy
from stratus.runtime import migrations
from stratus.runtime.bus import connect
from stratus.runtime.db import Database

if TYPE_CHECKING:
    from conftest import Made


class Proxy:
    def __init__(self, db: Database, port: int) -> None:
        self.db = db
        self.url = f"ws://127.0.0.1:{port}/"

    def token(self, container_uuid: str, exec_id: str | None, host: str = "node1") -> str:
        with self.db.session() as session:
            return consoles.issue(session, container_uuid, host, exec_id, 60)

    def open(self, token: str) -> websocket.WebSocket:
        return websocket.create_connection(
            f"{self.url}?token={token}", subprotocols=["binary", "base64"], timeout=10
        )


@pytest.fixture
def proxy(tmp_path: Path, driver: DockerDriver) -> Iterator[Proxy]:
    db = Database(f"sqlite:///{tmp_path / 'container.sqlite'}")
    migrations.upgrade("container", db)
    bus = connect(f"memory://{uuid.uuid4()}")
    bus.serve(CONDUCTOR_TOPIC, Conductor(db))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = WebsocketProxy(bus, driver, "node1", "127.0.0.1", port)
    server.start()
    try:
        yield Proxy(db, port)
    finally:
        server.stop()
        bus.close()
        db.dispose()


def _read_until(ws: websocket.WebSocket, wanted: str) -> str:
    seen = ""
    deadline = time.monotonic() + 10
    while wanted not in seen:
        assert time.monotonic() < deadline, f"never saw {wanted!r} in {seen!r}"
        data = ws.recv()
        seen += data.decode(errors="replace") if isinstance(data, bytes) else data
    return seen


def _refused(ws: websocket.WebSocket) -> None:
    """The proxy closes at once, saying the token is no good."""
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1008, frame.data
    assert b"token" in frame.data
    ws.close()


def _interactive(driver: DockerDriver, made: Made) -> str:
    spec = made.spec(command=["sh"], interactive=True, tty=True)
    driver.create(spec, made.image_data)
    driver.start(spec["uuid"])
    return spec["uuid"]


def test_attach_sends_input_and_reads_output(
    proxy: Proxy, driver: DockerDriver, made: Made
) -> None:
    container = _interactive(driver, made)
    token = proxy.token(container, None)
    ws = proxy.open(token)
    assert ws.subprotocol == "binary"
    ws.send_binary(b"echo attached-$((40+2))\n")
    _read_until(ws, "attached-42")
    ws.close()
    _refused(proxy.open(token))  # a token opens one stream only


def test_interactive_exec_with_resize(proxy: Proxy, driver: DockerDriver, made: Made) -> None:
    container = _interactive(driver, made)
    exec_id = driver.exec_create(container, ["sh"])
    ws = proxy.open(proxy.token(container, exec_id))
    ws.send_binary(b"echo ready\n")
    _read_until(ws, "ready")
    driver.exec_resize(exec_id, 37, 111)
    ws.send_binary(b"stty size\n")
    _read_until(ws, "37 111")
    ws.send_binary(b"exit\n")
    deadline = time.monotonic() + 10
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while time.monotonic() < deadline:  # the exec ends, and the proxy closes
            ws.recv()
    driver.resize(container, 25, 90)  # the container's own tty resizes too


def test_a_token_of_another_host_or_none_opens_nothing(
    proxy: Proxy, driver: DockerDriver, made: Made
) -> None:
    container = _interactive(driver, made)
    for token in (proxy.token(container, None, host="node2"), "made-up"):
        _refused(proxy.open(token))
    with proxy.db.session() as session:  # the foreign token was spent too
        assert consoles.claim(session, "made-up", "node1") is None
