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
from typing import Protocol

from stratus.container import options  # noqa: F401 - declares the [websocket_proxy] options
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.runtime.bus import Bus
from stratus.runtime.parts import WorkerPart
from stratus.runtime.process import Runtime
from stratus.runtime.websocket import (
    INTERNAL_ERROR,
    POLICY_VIOLATION,
    TOKEN_REFUSED,
    Refused,
    TokenProxy,
)

LOG = logging.getLogger(__name__)


class Streams(Protocol):
    def open_stream(self, uuid: str, exec_id: str | None) -> socket.socket: ...


class WebsocketProxy(TokenProxy):
    def __init__(self, bus: Bus, streams: Streams, host: str, listen: str, port: int) -> None:
        super().__init__("container-wsproxy", listen, port)
        self.bus = bus
        self.streams = streams
        self.host = host

    def open(self, token: str) -> socket.socket:
        target = self.bus.call(CONDUCTOR_TOPIC, "claim_console", token=token, hostname=self.host)
        if target is None:
            raise Refused(POLICY_VIOLATION, TOKEN_REFUSED)
        try:
            return self.streams.open_stream(target["uuid"], target["exec_id"])
        except Exception as exc:  # the engine refused or is down: tell the client why
            LOG.warning("cannot open the stream of container %s: %s", target["uuid"], exc)
            raise Refused(INTERNAL_ERROR, f"Cannot open the container's stream: {exc}") from exc


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
