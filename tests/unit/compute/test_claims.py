"""Claims never overcommit a node, also when many threads claim at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from stratus.compute.models import Allocation, ComputeNode
from stratus.compute.scheduler import claims
from stratus.compute.scheduler.request import Resources
from stratus.runtime.db import Database

SMALL = Resources(vcpus=1, memory_mb=512, disk_gb=10)


def _node(db: Database, node_id: int) -> ComputeNode:
    with db.session() as session:
        return session.get(ComputeNode, node_id)


def test_claim_takes_and_release_gives_back_once(db, add_host) -> None:
    node = add_host("a", vcpus=2, memory_mb=1024, local_gb=20)
    assert claims.claim(db, node, "one", SMALL)
    assert claims.claim(db, node, "two", SMALL)
    assert not claims.claim(db, node, "three", SMALL)
    used = _node(db, node)
    assert (used.vcpus_used, used.memory_mb_used, used.local_gb_used) == (2, 1024, 20)
    claims.release(db, "one")
    claims.release(db, "one")  # nothing left to free
    used = _node(db, node)
    assert (used.vcpus_used, used.memory_mb_used, used.local_gb_used) == (1, 512, 10)


def test_claims_respect_ratios_and_reserved(db, add_host) -> None:
    node = add_host(
        "a",
        vcpus=2,
        memory_mb=2048,
        local_gb=100,
        cpu_allocation_ratio=4.0,
        reserved_memory_mb=1024,
        ram_allocation_ratio=1.5,
    )
    # (2048 - 1024) * 1.5 = 1536 MB: three 512 MB servers, eight vCPUs.
    results = [claims.claim(db, node, f"c{i}", SMALL) for i in range(4)]
    assert results == [True, True, True, False]


def test_concurrent_claims_never_overcommit(db, add_host) -> None:
    nodes = [add_host(f"h{i}", vcpus=64, memory_mb=512 * 5, local_gb=1000) for i in range(3)]

    def attempt(i: int) -> bool:
        return claims.claim(db, nodes[i % 3], f"consumer-{i}", SMALL)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, range(60)))
    assert sum(results) == 15  # five per node, whoever won
    with db.session() as session:
        for node_id in nodes:
            node = session.get(ComputeNode, node_id)
            held = session.query(Allocation).filter_by(node_id=node_id).count()
            assert node.memory_mb_used == held * 512 <= node.memory_mb


def test_move_hands_allocations_over(db, add_host) -> None:
    node = add_host("a")
    claims.claim(db, node, "server", SMALL)
    with db.session() as session:
        claims.move(session, "server", "migration")
    with db.session() as session:
        assert claims.held_by(session, "server") == []
        assert [a.node_id for a in claims.held_by(session, "migration")] == [node]
