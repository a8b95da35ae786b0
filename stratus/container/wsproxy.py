"""The container websocket proxy (part ``container-wsproxy``): relays a client's
websocket to a container's tty (attach) or to an interactive exec.

One runs on every container host, next to the agent, because the stream it relays is
the local Docker Engine's; the agent reports the proxy's URL (``[websocket_proxy]
base_url``) with its host, and the API hands out that URL with a single-use token. The
proxy claims the token through the conductor (never the database) and opens the stream
only if the token was issued for its own host.
"""

from __future__ import annotations

import logging
import socket
import threading
from contextlib import suppress
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from stratus.container import options  # noqa: F401 - declares the [websocket_proxy] options
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.runtime.bus import Bus
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)
_CHUNK = 64 * 1024


class Streams(Protocol):
    def open_stream(self, uuid: str, exec_id: str | None) -> socket.socket: ...


class WebsocketProxy:
    def __init__(self, bus: Bus, streams: Streams, host: str, listen: str, port: int) -> None:
        self.bus = bus
        self.streams = streams
        self.host = host
        self.listen = listen
        self.port = port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # python-zunclient asks for the "binary" (or "base64") subprotocol: binary it is.
        self._server = serve(
            self._handle, self.listen, self.port, subprotocols=["binary"], close_timeout=2
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="container-wsproxy", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        token = (query.get("token") or [""])[0]
        target: dict[str, Any] | None = None
        if token:
            target = self.bus.call(
                CONDUCTOR_TOPIC, "claim_console", token=token, hostname=self.host
            )
        if target is None:
            ws.close(1008, "The token is unknown, used or expired.")
            return
        try:
            stream = self.streams.open_stream(target["uuid"], target["exec_id"])
        except Exception as exc:  # the engine refused or is down: tell the client why
            LOG.warning("cannot open the stream of container %s: %s", target["uuid"], exc)
            ws.close(1011, f"Cannot open the container's stream: {exc}"[:120])
            return
        relay(ws, stream)


def relay(ws: ServerConnection, stream: socket.socket) -> None:
    """Copy both ways until either side closes, then close both."""

    def to_client() -> None:
        try:
            while data := stream.recv(_CHUNK):
                ws.send(data)
        except (OSError, ConnectionClosed):
            pass
        finally:
            ws.close()

    outbound = threading.Thread(target=to_client, name="container-wsproxy-out", daemon=True)
    outbound.start()
    try:
        for message in ws:
            stream.sendall(message.encode() if isinstance(message, str) else message)
    except (OSError, ConnectionClosed):
        pass
    finally:
        with suppress(OSError):
            stream.shutdown(socket.SHUT_RDWR)
        stream.close()
        outbound.join(timeout=5)


def build_part(runtime: Runtime) -> WorkerPart:
    from stratus.container.agent.docker import DockerDriver

    conf = runtime.conf.websocket_proxy
    proxy = WebsocketProxy(
        runtime.bus,
        DockerDriver(runtime.conf.container.docker_url, runtime.conf.get("DEFAULT", "host")),
        runtime.conf.get("DEFAULT", "host"),
        conf.wsproxy_host,
        conf.wsproxy_port,
    )
    return WorkerPart("container-wsproxy", proxy.start, proxy.stop)
