"""Flavors as servers carry them, and the default flavors a new cloud gets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from stratus.compute.models import Flavor
from stratus.runtime.process import Runtime

# name, flavor id, RAM (MB), vCPUs, root disk (GB)
DEFAULT_FLAVORS = (
    ("m1.nano", "42", 64, 1, 1),
    ("m1.tiny", "1", 512, 1, 1),
    ("m1.small", "2", 2048, 1, 20),
    ("m1.medium", "3", 4096, 2, 40),
    ("m1.large", "4", 8192, 4, 80),
)


def create_default_flavors(runtime: Runtime) -> list[str]:
    """Create the default public flavors that do not exist yet (by name or id); safe to run
    on every bootstrap. Returns the names of the flavors it created."""
    from stratus.runtime import migrations  # Alembic: only bootstrap needs it, not the API

    db = runtime.database("compute")
    migrations.upgrade("compute", db)
    created = []
    with db.session() as session:
        for name, flavorid, ram, vcpus, disk in DEFAULT_FLAVORS:
            taken = session.scalar(
                sa.select(sa.func.count())
                .select_from(Flavor)
                .where(sa.or_(Flavor.name == name, Flavor.flavorid == flavorid))
            )
            if taken:
                continue
            session.add(
                Flavor(flavorid=flavorid, name=name, memory_mb=ram, vcpus=vcpus, root_gb=disk)
            )
            created.append(name)
    return created


def snapshot(flavor: Flavor) -> dict[str, Any]:
    """The copy of a flavor a server keeps (it outlives the flavor)."""
    return {
        "id": flavor.flavorid,
        "name": flavor.name,
        "memory_mb": flavor.memory_mb,
        "vcpus": flavor.vcpus,
        "root_gb": flavor.root_gb,
        "ephemeral_gb": flavor.ephemeral_gb,
        "swap": flavor.swap,
        "rxtx_factor": flavor.rxtx_factor,
        "is_public": flavor.is_public,
        "description": flavor.description,
        "extra_specs": flavor.specs,
    }
