"""A websocket proxy that a single-use token in the URL (``?token=...``) opens a byte stream
for, relayed both ways in binary frames: what the container service's attach and exec
proxy and the compute service's serial console proxy share.

Clients (python-zunclient, novaconsole, websockify-style tools) ask for the ``binary``
subprotocol (some also offer ``base64``): binary is what they get. A subclass says in
:meth:`TokenProxy.open` which stream a token opens, or refuses it with :class:`Refused`,
whose close code and reason the client receives.
"""

from __future__ import annotations

import logging
import socket
import threading
from abc import ABC, abstractmethod
from contextlib import suppress
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

LOG = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TOKEN_REFUSED = "The token is unknown, used or expired."
_CHUNK = 64 * 1024
_REASON_BYTES = 120  # a close frame's reason holds at most 123 bytes


class Refused(Exception):
    """The token opens nothing: the websocket is closed with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TokenProxy(ABC):
    """Serves websockets on ``listen``:``port`` in a background thread (``start``/``stop``)."""

    def __init__(self, name: str, listen: str, port: int) -> None:
        self.name = name
        self.listen = listen
        self.port = port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def open(self, token: str) -> socket.socket:
        """The stream ``token`` opens (claimed once); :class:`Refused` if none."""

    def start(self) -> None:
        self._server = serve(
            self._handle, self.listen, self.port, subprotocols=["binary"], close_timeout=2
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.name, daemon=True
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
        try:
            if not token:
                raise Refused(POLICY_VIOLATION, TOKEN_REFUSED)
            stream = self.open(token)
        except Refused as refused:
            ws.close(refused.code, refused.reason.encode()[:_REASON_BYTES].decode(errors="ignore"))
            return
        relay(ws, stream, self.name)


def relay(ws: ServerConnection, stream: socket.socket, name: str = "websocket") -> None:
    """Copy both ways until either side closes, then close both."""

    def to_client() -> None:
        try:
            while data := stream.recv(_CHUNK):
                ws.send(data)
        except (OSError, ConnectionClosed):
            pass
        finally:
            ws.close()

    outbound = threading.Thread(target=to_client, name=f"{name}-out", daemon=True)
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
