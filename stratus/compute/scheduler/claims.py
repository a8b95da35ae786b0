"""Claims: taking a server's resources from a node, so that no two requests can both
take the last of it.

A claim is one conditional UPDATE of the node's usage, whose WHERE clause holds the
capacity check; every database evaluates it against the latest committed row under the
row's write lock, so concurrent claims on one node are serialized and the loser sees
zero rows changed. The allocation row records what the consumer holds, so that freeing
it subtracts exactly that, once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.compute.models import Allocation, ComputeNode
from stratus.compute.scheduler.request import Resources
from stratus.runtime.db import Database

N = ComputeNode.__table__.c


_NODES = ComputeNode.__table__
_ALLOCATIONS = Allocation.__table__
_NODE = sa.bindparam("claim_node_id", type_=sa.Integer)
_VCPUS = sa.bindparam("claim_vcpus", type_=sa.Integer)
_RAM = sa.bindparam("claim_memory_mb", type_=sa.Integer)
_DISK = sa.bindparam("claim_disk_gb", type_=sa.Integer)

# Built once (a decision only binds its numbers): the compare-and-set on the node's usage.
_TAKE = (
    sa.update(_NODES)
    .where(
        N.id == _NODE,
        N.vcpus_used + _VCPUS <= (N.vcpus - N.reserved_vcpus) * N.cpu_allocation_ratio,
        N.memory_mb_used + _RAM <= (N.memory_mb - N.reserved_memory_mb) * N.ram_allocation_ratio,
        N.local_gb_used + _DISK <= (N.local_gb - N.reserved_disk_gb) * N.disk_allocation_ratio,
    )
    .values(
        vcpus_used=N.vcpus_used + _VCPUS,
        memory_mb_used=N.memory_mb_used + _RAM,
        local_gb_used=N.local_gb_used + _DISK,
    )
)
_RECORD = sa.insert(_ALLOCATIONS)


def claim(db: Database, node_id: int, consumer_id: str, resources: Resources) -> bool:
    """Take ``resources`` from the node for the consumer; False if they do not fit."""
    with db.engine.begin() as connection:  # one short transaction, no ORM unit of work
        return _claim(connection, node_id, consumer_id, resources)


def claim_in(session: Session, node_id: int, consumer_id: str, resources: Resources) -> bool:
    return _claim(session, node_id, consumer_id, resources)


def _claim(
    executor: Session | sa.Connection, node_id: int, consumer_id: str, resources: Resources
) -> bool:
    taken = executor.execute(
        _TAKE,
        {
            "claim_node_id": node_id,
            "claim_vcpus": resources.vcpus,
            "claim_memory_mb": resources.memory_mb,
            "claim_disk_gb": resources.disk_gb,
        },
    )
    if taken.rowcount != 1:
        return False
    executor.execute(
        _RECORD,
        {
            "consumer_id": consumer_id,
            "node_id": node_id,
            "vcpus": resources.vcpus,
            "memory_mb": resources.memory_mb,
            "disk_gb": resources.disk_gb,
        },
    )
    return True


def release(db: Database, consumer_id: str) -> None:
    """Give back everything the consumer holds (nothing if it holds nothing)."""
    with db.session() as session:
        release_in(session, consumer_id)


def release_in(session: Session, consumer_id: str) -> None:
    table = Allocation.__table__
    for allocation in session.execute(sa.select(table).where(table.c.consumer_id == consumer_id)):
        deleted = session.execute(
            sa.delete(Allocation.__table__).where(
                Allocation.consumer_id == consumer_id, Allocation.node_id == allocation.node_id
            )
        )
        if deleted.rowcount != 1:
            continue  # freed concurrently
        session.execute(
            sa.update(ComputeNode.__table__)
            .where(N.id == allocation.node_id)
            .values(
                vcpus_used=N.vcpus_used - allocation.vcpus,
                memory_mb_used=N.memory_mb_used - allocation.memory_mb,
                local_gb_used=N.local_gb_used - allocation.disk_gb,
            )
        )


def move(session: Session, from_consumer: str, to_consumer: str) -> None:
    """Hand a consumer's allocations to another (a resize's migration holds the source)."""
    session.execute(
        sa.update(Allocation.__table__)
        .where(Allocation.consumer_id == from_consumer)
        .values(consumer_id=to_consumer)
    )


def held_by(session: Session, consumer_id: str) -> list[Allocation]:
    return list(session.scalars(sa.select(Allocation).where(Allocation.consumer_id == consumer_id)))
