"""The scheduler picks, claims and gives back: all or nothing, never overcommitting."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stratus.compute.models import Aggregate, AggregateHost, AggregateMetadata, ComputeNode, Service
from stratus.compute.scheduler.manager import NoValidHost, Scheduler
from stratus.runtime.config import Config
from stratus.runtime.db import Database, new_id

TINY = {"vcpus": 1, "memory_mb": 512, "root_gb": 1, "ephemeral_gb": 0, "swap": 0}


def request(consumers: list[str], **values: Any) -> dict[str, Any]:
    return {"consumers": consumers, "project_id": "p", "flavor": TINY, **values}


@pytest.fixture
def scheduler(conf: Config, db: Database) -> Scheduler:
    return Scheduler(conf, db, cache_ttl=0)


def test_spreads_by_free_ram(scheduler, add_host) -> None:
    add_host("small", memory_mb=2048)
    add_host("big", memory_mb=8192, vcpus=16, local_gb=1000)
    chosen = scheduler.select_destinations(request(["a", "b"]))
    assert [c["host"] for c in chosen] == ["big", "big"]
    assert chosen[0]["consumer"] == "a"


def test_all_or_nothing(scheduler, add_host, db) -> None:
    add_host("only", memory_mb=1024)
    with pytest.raises(NoValidHost, match="No valid host was found"):
        scheduler.select_destinations(request(["a", "b", "c"]))
    with db.session() as session:
        assert session.query(ComputeNode).one().memory_mb_used == 0


def test_down_and_disabled_hosts_are_skipped(scheduler, add_host, db) -> None:
    add_host("down")
    add_host("disabled")
    add_host("up", memory_mb=1024)
    with db.session() as session:
        session.query(Service).filter_by(host="down").update({"forced_down": True})
        session.query(Service).filter_by(host="disabled").update({"disabled": True})
    assert scheduler.select_destinations(request(["a"]))[0]["host"] == "up"


def test_anti_affinity_within_one_request(scheduler, add_host) -> None:
    for name in ("h1", "h2"):
        add_host(name)
    group = {"id": "g", "policy": "anti-affinity", "hosts": []}
    chosen = scheduler.select_destinations(request(["a", "b"], group=group))
    assert {c["host"] for c in chosen} == {"h1", "h2"}
    with pytest.raises(NoValidHost):
        scheduler.select_destinations(request(["c", "d", "e"], group=group))


def test_affinity_follows_the_members(scheduler, add_host) -> None:
    for name in ("h1", "h2", "h3"):
        add_host(name)
    group = {"id": "g", "policy": "affinity", "hosts": ["h3"]}
    chosen = scheduler.select_destinations(request(["a", "b"], group=group))
    assert [c["host"] for c in chosen] == ["h3", "h3"]


def test_availability_zone_from_aggregate(scheduler, add_host, db) -> None:
    add_host("h1")
    add_host("h2")
    with db.session() as session:
        aggregate = Aggregate(uuid=new_id(), name="rack2")
        aggregate.hosts.append(AggregateHost(host="h2"))
        aggregate.metadata_items.append(AggregateMetadata(key="availability_zone", value="az2"))
        session.add(aggregate)
    chosen = scheduler.select_destinations(request(["a"], availability_zone="az2"))
    assert chosen[0]["host"] == "h2"
    chosen = scheduler.select_destinations(request(["b"], availability_zone="nova"))
    assert chosen[0]["host"] == "h1"


def test_forced_host_skips_filters_but_not_claims(scheduler, add_host, db) -> None:
    add_host("h1", memory_mb=600)
    add_host("h2")
    with db.session() as session:
        session.query(Service).filter_by(host="h1").update({"disabled": True})
    assert scheduler.select_destinations(request(["a"], force_host="h1"))[0]["host"] == "h1"
    with pytest.raises(NoValidHost):
        scheduler.select_destinations(request(["b"], force_host="h1"))


def test_concurrent_requests_fill_hosts_exactly(conf, db, add_host) -> None:
    for i in range(4):
        add_host(f"h{i}", memory_mb=512 * 10, vcpus=64)
    # Each thread its own scheduler with a long-lived cache: stale views, as with many
    # scheduler processes; the claims must still hold.
    schedulers = [Scheduler(conf, db, cache_ttl=60) for _ in range(4)]

    def place(i: int) -> str | None:
        try:
            return schedulers[i % 4].select_destinations(request([f"s{i}"]))[0]["host"]
        except NoValidHost:
            return None

    with ThreadPoolExecutor(8) as pool:
        hosts = list(pool.map(place, range(50)))
    placed = [h for h in hosts if h]
    assert len(placed) == 40
    assert all(placed.count(f"h{i}") == 10 for i in range(4))


def test_failed_claims_fall_back_to_the_rest_of_the_ranking(conf, db, add_host) -> None:
    # A stale cache: the best hosts are full in the database; the claim moves down the
    # ranking past the whole subset without reloading, and never overcommits.
    for i in range(5):
        add_host(f"h{i}", memory_mb=512 * (10 - i))
    scheduler = Scheduler(conf, db, cache_ttl=60)
    scheduler.subset_size = 2
    scheduler.select_destinations(request(["warm"]))  # loads the cache
    with db.session() as session:
        for node in session.query(ComputeNode).filter(ComputeNode.host.in_(["h0", "h1", "h2"])):
            node.memory_mb_used = node.memory_mb
    chosen = scheduler.select_destinations(request(["a"]))[0]["host"]
    assert chosen in {"h3", "h4"}


def test_capabilities_documents_are_decoded_once(db, add_host) -> None:
    from stratus.compute.scheduler.hosts import load_host_states

    caps = {"supported_instances": [["x86_64", "fake", "hvm"]], "hypervisor_version": 7}
    for i in range(3):
        add_host(f"h{i}", capabilities=caps)
    add_host("bare")
    decoded: dict[str, Any] = {}
    states = {s.host: s for s in load_host_states(db, "nova", 60, decoded)}
    assert states["h0"].capabilities == caps
    assert states["h0"].capabilities is states["h2"].capabilities
    assert states["bare"].capabilities == {}
    assert len(decoded) == 2  # the document and {}
