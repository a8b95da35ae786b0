"""What the scheduler knows of each host: its node's capacity and claims, whether its
service is up, and the aggregates it is in. Loaded from the database and kept for a
short while; a stale view can only cost a failed claim, never an overcommitted host."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from stratus.compute.models import AggregateHost, AggregateMetadata, ComputeNode, Service
from stratus.compute.scheduler.request import Resources
from stratus.runtime.db import Database, utcnow

AGENT_BINARY = "nova-compute"
AZ_KEY = "availability_zone"


@dataclass(slots=True)
class HostState:
    """One node. ``free_*`` are what claims may still take: (total - reserved) x ratio -
    used, kept up to date as this scheduler claims (they are read for every decision)."""

    host: str
    node: str
    node_id: int
    node_uuid: str
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    reserved_vcpus: int = 0
    reserved_memory_mb: int = 0
    reserved_disk_gb: int = 0
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    capabilities: dict[str, Any] = field(default_factory=dict)
    service_up: bool = True
    service_disabled: bool = False
    availability_zone: str = "nova"
    # Every aggregate's metadata, key -> the values it has in the host's aggregates.
    aggregate_metadata: dict[str, set[str]] = field(default_factory=dict)
    free_vcpus: float = field(init=False)
    free_ram_mb: float = field(init=False)
    free_disk_gb: float = field(init=False)

    def __post_init__(self) -> None:
        self.free_vcpus = (
            self.vcpus - self.reserved_vcpus
        ) * self.cpu_allocation_ratio - self.vcpus_used
        self.free_ram_mb = (
            self.memory_mb - self.reserved_memory_mb
        ) * self.ram_allocation_ratio - self.memory_mb_used
        self.free_disk_gb = (
            self.local_gb - self.reserved_disk_gb
        ) * self.disk_allocation_ratio - self.local_gb_used

    def consume(self, resources: Resources) -> None:
        """Count a claim made on this host, until the next reload shows it."""
        self.vcpus_used += resources.vcpus
        self.memory_mb_used += resources.memory_mb
        self.local_gb_used += resources.disk_gb
        self.free_vcpus -= resources.vcpus
        self.free_ram_mb -= resources.memory_mb
        self.free_disk_gb -= resources.disk_gb


class _Liveness(Protocol):
    forced_down: bool
    last_seen_up: datetime | None


def service_is_up(service: _Liveness, down_time: int, now: datetime | None = None) -> bool:
    """A service is up when it is not forced down and its last heartbeat is recent."""
    if service.forced_down or service.last_seen_up is None:
        return False
    return (now or utcnow()) - service.last_seen_up <= timedelta(seconds=down_time)


def load_host_states(
    db: Database, default_az: str, down_time: int, decoded: dict[str, Any] | None = None
) -> list[HostState]:
    """Every node as the scheduler sees it (plain rows: this runs every second).

    ``decoded`` maps a capabilities document as stored to its decoded form, kept by the
    caller between loads: hosts report the same few documents, so each is parsed once."""
    services = Service.__table__.c
    members, items = AggregateHost.__table__.c, AggregateMetadata.__table__.c
    with db.engine.connect() as connection:
        up = {
            row.host: (service_is_up(row, down_time), row.disabled)
            for row in connection.execute(
                sa.select(
                    services.host, services.disabled, services.forced_down, services.last_seen_up
                ).where(services.binary == AGENT_BINARY)
            )
        }
        metadata: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for host, key, value in connection.execute(
            sa.select(members.host, items.key, items.value)
            .select_from(AggregateHost.__table__)
            .join(AggregateMetadata.__table__, items.aggregate_id == members.aggregate_id)
        ):
            metadata[host][key].add(value)
        nodes = connection.execute(_NODE_QUERY).all()
    if decoded is None:
        decoded = {}
    elif len(decoded) > _DECODED_MAX:
        decoded.clear()
    states = []
    for node in nodes:
        host, name, node_id, node_uuid, raw, *values = node
        service_up, disabled = up.get(host, (False, True))
        host_metadata = metadata.get(host)
        if host_metadata:
            zones = sorted(host_metadata.get(AZ_KEY, ()))
            zone = zones[0] if zones else default_az
            aggregate_metadata = {k: set(v) for k, v in host_metadata.items()}
        else:
            zone, aggregate_metadata = default_az, {}
        states.append(
            HostState(
                host,
                name,
                node_id,
                node_uuid,
                *values,
                capabilities=_decode(raw, decoded),
                service_up=service_up,
                service_disabled=disabled,
                availability_zone=zone,
                aggregate_metadata=aggregate_metadata,
            )
        )
    return states


def _decode(raw: Any, decoded: dict[str, Any]) -> dict[str, Any]:
    """A node's capabilities from the column as the driver returns it untyped: JSON text
    (SQLite, MariaDB), parsed once per distinct document, or already a dict (PostgreSQL).
    Hosts may share the decoded dict: nothing changes it in place."""
    if raw is None:
        return {}
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode()
    if not isinstance(raw, str):
        return dict(raw)
    value = decoded.get(raw)
    if value is None:
        value = decoded[raw] = json.loads(raw) or {}
    return value


_DECODED_MAX = 10_000
_N = ComputeNode.__table__.c
# In HostState's positional order; capabilities as the stored text, decoded by _decode.
_NODE_QUERY = sa.select(
    _N.host,
    _N.hypervisor_hostname,
    _N.id,
    _N.uuid,
    sa.type_coerce(_N.capabilities, sa.Text),
    _N.vcpus,
    _N.memory_mb,
    _N.local_gb,
    _N.vcpus_used,
    _N.memory_mb_used,
    _N.local_gb_used,
    _N.reserved_vcpus,
    _N.reserved_memory_mb,
    _N.reserved_disk_gb,
    _N.cpu_allocation_ratio,
    _N.ram_allocation_ratio,
    _N.disk_allocation_ratio,
)


class HostCache:
    """Host states reloaded when older than ``ttl`` seconds or when asked to."""

    def __init__(self, db: Database, default_az: str, down_time: int, ttl: float = 1.0) -> None:
        self._db = db
        self._default_az = default_az
        self._down_time = down_time
        self._ttl = ttl
        self._lock = threading.Lock()
        self._states: list[HostState] = []
        self._loaded = -float("inf")
        self._decoded: dict[str, Any] = {}

    def get(self) -> list[HostState]:
        with self._lock:
            if time.monotonic() - self._loaded > self._ttl:
                self._states = load_host_states(
                    self._db, self._default_az, self._down_time, self._decoded
                )
                self._loaded = time.monotonic()
            return self._states

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = -float("inf")
