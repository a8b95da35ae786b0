"""The serial console proxy (part ``compute-serialproxy``): relays a client's websocket
to a server's serial port, which QEMU serves over TCP on the server's compute host.

The API hands out ``[serial_console] base_url`` of the server's host with a single-use
token; the proxy claims the token through the conductor (never the database), which
answers where the console listens only to the proxy whose URL the token went out with,
and connects there. By default a proxy runs on every compute host and reaches consoles
on loopback; one proxy may serve many hosts whose consoles listen on an address it can
reach (``[serial_console] proxyclient_address``), all with its URL as ``base_url``.
"""

from __future__ import annotations

import logging
import socket

from stratus.compute import options  # noqa: F401 - declares the [serial_console] options
from stratus.compute.conductor.manager import TOPIC as CONDUCTOR_TOPIC
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
CONNECT_TIMEOUT = 10.0


class SerialProxy(TokenProxy):
    def __init__(self, bus: Bus, url: str, listen: str, port: int) -> None:
        super().__init__("compute-serialproxy", listen, port)
        self.bus = bus
        self.url = url

    def open(self, token: str) -> socket.socket:
        target = self.bus.call(CONDUCTOR_TOPIC, "claim_console", token=token, proxy_url=self.url)
        if target is None:
            raise Refused(POLICY_VIOLATION, TOKEN_REFUSED)
        address = (target["host"], target["port"])
        try:
            stream = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            LOG.warning("cannot reach the console of server %s: %s", target["instance_uuid"], exc)
            raise Refused(INTERNAL_ERROR, f"Cannot reach the server's console: {exc}") from exc
        stream.settimeout(None)
        return stream


def build_part(runtime: Runtime) -> WorkerPart:
    conf = runtime.conf.serial_console
    proxy = SerialProxy(runtime.bus, conf.base_url, conf.serialproxy_host, conf.serialproxy_port)
    return WorkerPart("compute-serialproxy", proxy.start, proxy.stop)
