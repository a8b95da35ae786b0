"""Telling the compute service that a floating IP came to or left one of its servers'
ports (a ``network-changed`` event tagged with the port), so that the server shows its
floating IPs. The compute service reads them again from this service's API.

Events are sent after the change is committed, by one thread at a time and in the order
they were made, so that a port's last event is the last one read. A compute service
that is not in the catalog gets none; one that does not answer gets them again a few
times, then the loss is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from stratus.runtime.api.errors import ServiceUnavailable
from stratus.runtime.clients.catalog import ServiceClient, ServiceNotInCatalog

LOG = logging.getLogger(__name__)

PATH = "/os-server-external-events"
RETRY_DELAYS = (0.5, 2.0, 5.0)
DELIVERED = frozenset({200, 207, 404})  # 404: none of the servers exists any more
SERVER_PORT_OWNER = "compute:"


class ComputeEvents:
    """Events for the compute API; ``service`` None sends none (a cloud without one)."""

    def __init__(self, service: ServiceClient | None = None) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._sending = False

    def ports_changed(self, ports: Iterable[tuple[str, str, str]]) -> None:
        """``ports``: (device owner, device id, port id) of the ports whose floating IPs
        changed; those that servers own are told to the compute service."""
        events = [
            {"name": "network-changed", "server_uuid": device_id, "tag": port_id}
            for owner, device_id, port_id in ports
            if owner.startswith(SERVER_PORT_OWNER) and device_id
        ]
        service = self._service
        if not events or service is None:
            return
        with self._lock:
            self._pending += events
            if self._sending:
                return
            self._sending = True
        sender = threading.Thread(
            target=self._send_pending, args=(service,), name="compute-events", daemon=True
        )
        sender.start()

    def _send_pending(self, service: ServiceClient) -> None:
        while True:
            with self._lock:
                events, self._pending = self._pending, []
                if not events:
                    self._sending = False
                    return
            _send(service, events)


def _send(service: ServiceClient, events: list[dict[str, Any]]) -> None:
    for delay in (*RETRY_DELAYS, None):
        try:
            response = service.request("POST", PATH, json={"events": events})
        except ServiceNotInCatalog:
            return
        except ServiceUnavailable as exc:
            problem = str(exc)
        else:
            if response.status_code in DELIVERED:
                return
            problem = f"status {response.status_code}: {response.text[:200]}"
        if delay is None:
            LOG.warning("could not tell the compute service of %s: %s", events, problem)
            return
        time.sleep(delay)
