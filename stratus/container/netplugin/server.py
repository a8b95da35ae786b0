"""The plugin's HTTP server on the unix socket where Docker discovers plugins
(``/run/docker/plugins/<name>.sock``): JSON in, JSON out, a thread per request.

Docker sends every request as ``POST /<Interface>.<Method>``. A path the plugin does not
know gets 404 (Docker then treats the method as not implemented), a body that is not
JSON gets 400, and a request that cannot be done gets the reason, under ``Err`` (what the
network driver protocol reads) and ``Error`` (what the IPAM protocol reads).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from stratus.container.netplugin.errors import PluginError

LOG = logging.getLogger(__name__)

PLUGIN_DIR = Path("/run/docker/plugins")
CONTENT_TYPE = "application/vnd.docker.plugins.v1+json"

Route = Callable[[dict[str, Any]], dict[str, Any]]


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    routes: dict[str, Route]


class _Handler(BaseHTTPRequestHandler):
    # One request per connection: a stopped server then has no connection left that
    # Docker could still send requests down (unix socket connections are cheap).
    protocol_version = "HTTP/1.0"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        route = self.server.routes.get(self.path)
        if route is None:
            self._reply(404, _error(f"{self.path} is not implemented by this plugin"))
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            self._reply(400, _error(f"the request is not JSON: {exc}"))
            return
        try:
            reply = route(body if isinstance(body, dict) else {})
        except Exception as exc:  # every failure is an answer Docker shows the user
            LOG.warning("%s failed: %s", self.path, exc, exc_info=not isinstance(exc, PluginError))
            reply = _error(str(exc) or type(exc).__name__)
        self._reply(200, reply)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        LOG.debug("%s " + format, self.path, *args)


def _error(message: str) -> dict[str, Any]:
    return {"Err": message, "Error": message}


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def socket_path(name: str) -> Path:
    return PLUGIN_DIR / f"{name}.sock"


class PluginServer:
    """Serve ``routes`` on the plugin's socket until :meth:`stop`."""

    def __init__(self, name: str, routes: dict[str, Route]) -> None:
        self.path = socket_path(name)
        self.routes = routes
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if _answers(self.path):
            raise RuntimeError(
                f"Another plugin serves {self.path}: give this one another name "
                "([container] network_plugin_name)."
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.unlink(missing_ok=True)  # left by a plugin that died
            server = _Server(str(self.path), _Handler)
        except OSError as exc:
            raise RuntimeError(f"The network plugin cannot serve {self.path}: {exc}") from exc
        server.routes = self.routes
        os.chmod(self.path, 0o660)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"netplugin-{self.path.stem}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self.path.unlink(missing_ok=True)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
