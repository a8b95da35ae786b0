"""The runtime handed to every part: config, and on demand the databases, the bus and
the service's identity session. One object per process, in either deployment mode."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from stratus.runtime.config import Config
from stratus.runtime.db import Database, database_url

if TYPE_CHECKING:
    from stratus.runtime.bus import Bus
    from stratus.runtime.identity_client import IdentityClient


class Runtime:
    def __init__(self, conf: Config) -> None:
        self.conf = conf
        self._lock = threading.Lock()
        self._databases: dict[str, Database] = {}
        self._identity: dict[str, IdentityClient] = {}
        self._bus: Bus | None = None

    def database(self, service: str) -> Database:
        with self._lock:
            if service not in self._databases:
                self._databases[service] = Database(database_url(self.conf, service))
            return self._databases[service]

    @property
    def bus(self) -> Bus:
        from stratus.runtime.bus import connect

        with self._lock:
            if self._bus is None:
                self._bus = connect(self.conf.get("DEFAULT", "transport_url"))
            return self._bus

    def identity(self, section: str) -> IdentityClient:
        """The identity session of the service whose credentials live in ``section``."""
        from stratus.runtime.identity_client import IdentityClient

        with self._lock:
            if section not in self._identity:
                self._identity[section] = IdentityClient(self.conf, section)
            return self._identity[section]

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
        for db in self._databases.values():
            db.dispose()
