"""A migrated compute database, and compute hosts in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stratus.compute import services
from stratus.compute.models import ComputeNode
from stratus.runtime import migrations
from stratus.runtime.db import Database, new_id
from stratus.runtime.process import Runtime

AddHost = Callable[..., int]


@pytest.fixture
def db(runtime: Runtime) -> Database:
    database = runtime.database("compute")
    migrations.upgrade("compute", database)
    return database


@pytest.fixture
def add_host(db: Database) -> AddHost:
    """Add a compute host (service up, one node); returns the node's id."""

    def add(
        host: str, *, vcpus: int = 4, memory_mb: int = 4096, local_gb: int = 100, **extra: Any
    ) -> int:
        services.heartbeat(db, host, *services.AGENT)
        values = {
            "cpu_allocation_ratio": 1.0,
            "ram_allocation_ratio": 1.0,
            "disk_allocation_ratio": 1.0,
            **extra,
        }
        with db.session() as session:
            node = ComputeNode(
                uuid=new_id(),
                host=host,
                hypervisor_hostname=host,
                hypervisor_type="fake",
                vcpus=vcpus,
                memory_mb=memory_mb,
                local_gb=local_gb,
                **values,
            )
            session.add(node)
            session.flush()
            return node.id

    return add
