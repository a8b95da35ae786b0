"""What the plugin must remember across restarts, in one small JSON file under the data
dir (never in a database: principle 4). Docker never repeats ``RequestPool`` or
``CreateNetwork`` for a network it already has, so the pools and networks it was given
must outlive the process; addresses and endpoints are recorded before the port or the
veth behind them is made, so that a plugin killed at any moment finds them at its next
start and removes what nothing holds any more.

Every change is written at once (to a temporary file renamed over the old one), so a
crash never leaves a half-written record.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def now() -> float:
    return time.time()


@dataclass
class Pool:
    """An IPAM pool Docker asked for: the CIDR it was given (a subnet's, or a placeholder
    when it named no subnet and no network) and, once known, the Stratus subnet."""

    cidr: str
    network_id: str | None = None
    project_id: str | None = None  # the network's: ports made on it belong to its project
    subnet_id: str | None = None
    subnet_cidr: str | None = None  # the subnet's (a placeholder pool's CIDR is not)
    gateway: str | None = None  # the subnet's gateway_ip
    docker_network: str | None = None  # set by CreateNetwork
    placeholder: bool = False
    since: float = field(default_factory=now)


@dataclass
class Address:
    """An address Docker was given from a pool: the port that holds it."""

    pool_id: str
    ip: str
    port_id: str
    created: bool  # the plugin made the port (else the container API reserved it)
    since: float = field(default_factory=now)


@dataclass
class Endpoint:
    """A Docker endpoint: its port, whose veth the plugin plugs."""

    docker_network: str
    address: str  # the key of its Address
    port_id: str
    created: bool
    since: float = field(default_factory=now)


@dataclass
class Network:
    """A Docker network of this plugin and the Stratus network it stands for."""

    network_id: str
    since: float = field(default_factory=now)


_TABLES: dict[str, type] = {
    "pools": Pool,
    "addresses": Address,
    "endpoints": Endpoint,
    "networks": Network,
}


def address_key(pool_id: str, ip: str) -> str:
    return f"{pool_id} {ip}"


class State:
    """The record, with a lock: read it under :meth:`locked`, change it in :meth:`change`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self.pools: dict[str, Pool] = {}
        self.addresses: dict[str, Address] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.networks: dict[str, Network] = {}
        self._load()

    @contextmanager
    def locked(self) -> Iterator[State]:
        with self._lock:
            yield self

    @contextmanager
    def change(self) -> Iterator[State]:
        """Change the record; it is written when the block ends (also when it raises,
        so that what was changed before the error is not lost)."""
        with self._lock:
            try:
                yield self
            finally:
                self._save()

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw: dict[str, dict[str, dict[str, Any]]] = json.loads(self.path.read_text())
        for table, kind in _TABLES.items():
            setattr(self, table, {k: kind(**v) for k, v in raw.get(table, {}).items()})

    def _save(self) -> None:
        raw = {table: {k: asdict(v) for k, v in getattr(self, table).items()} for table in _TABLES}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(raw, indent=1, sort_keys=True))
        os.replace(temporary, self.path)
