"""What the scheduler knows of each host: its node's capacity and claims, whether its
service is up, and the aggregates it is in. Loaded from the database and kept for a
short while; a stale view can only cost a failed claim, never an overcommitted host."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from stratus.compute.models import Aggregate, ComputeNode, Service
from stratus.compute.scheduler.request import Resources
from stratus.runtime.db import Database, utcnow

AGENT_BINARY = "nova-compute"
AZ_KEY = "availability_zone"


@dataclass
class HostState:
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

    @property
    def free_vcpus(self) -> float:
        return (self.vcpus - self.reserved_vcpus) * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_ram_mb(self) -> float:
        return (
            self.memory_mb - self.reserved_memory_mb
        ) * self.ram_allocation_ratio - self.memory_mb_used

    @property
    def free_disk_gb(self) -> float:
        return (
            self.local_gb - self.reserved_disk_gb
        ) * self.disk_allocation_ratio - self.local_gb_used

    def consume(self, resources: Resources) -> None:
        """Count a claim made on this host, until the next reload shows it."""
        self.vcpus_used += resources.vcpus
        self.memory_mb_used += resources.memory_mb
        self.local_gb_used += resources.disk_gb


def service_is_up(service: Service, down_time: int, now: datetime | None = None) -> bool:
    """A service is up when it is not forced down and its last heartbeat is recent."""
    if service.forced_down or service.last_seen_up is None:
        return False
    return (now or utcnow()) - service.last_seen_up <= timedelta(seconds=down_time)


def load_host_states(db: Database, default_az: str, down_time: int) -> list[HostState]:
    with db.session() as session:
        services = {
            s.host: s
            for s in session.scalars(sa.select(Service).where(Service.binary == AGENT_BINARY))
        }
        metadata: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for aggregate in session.scalars(sa.select(Aggregate)):
            items = aggregate.metadata_dict
            for member in aggregate.hosts:
                for key, value in items.items():
                    metadata[member.host][key].add(value)
        nodes = list(session.scalars(sa.select(ComputeNode)))
    now = utcnow()
    states = []
    for node in nodes:
        service = services.get(node.host)
        host_metadata = metadata.get(node.host, {})
        zones = sorted(host_metadata.get(AZ_KEY, ()))
        states.append(
            HostState(
                host=node.host,
                node=node.hypervisor_hostname,
                node_id=node.id,
                node_uuid=node.uuid,
                vcpus=node.vcpus,
                memory_mb=node.memory_mb,
                local_gb=node.local_gb,
                vcpus_used=node.vcpus_used,
                memory_mb_used=node.memory_mb_used,
                local_gb_used=node.local_gb_used,
                reserved_vcpus=node.reserved_vcpus,
                reserved_memory_mb=node.reserved_memory_mb,
                reserved_disk_gb=node.reserved_disk_gb,
                cpu_allocation_ratio=node.cpu_allocation_ratio,
                ram_allocation_ratio=node.ram_allocation_ratio,
                disk_allocation_ratio=node.disk_allocation_ratio,
                capabilities=node.capabilities,
                service_up=service is not None and service_is_up(service, down_time, now),
                service_disabled=service is None or service.disabled,
                availability_zone=zones[0] if zones else default_az,
                aggregate_metadata={k: set(v) for k, v in host_metadata.items()},
            )
        )
    return states


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

    def get(self) -> list[HostState]:
        with self._lock:
            if time.monotonic() - self._loaded > self._ttl:
                self._states = load_host_states(self._db, self._default_az, self._down_time)
                self._loaded = time.monotonic()
            return self._states

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = -float("inf")
