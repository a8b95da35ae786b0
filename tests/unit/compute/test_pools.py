"""Kept rankings: after any run of claims a pool ranks its hosts exactly as filtering and
weighing all of them afresh would."""

from __future__ import annotations

import random

import pytest

from stratus.compute.scheduler import filters, weighers
from stratus.compute.scheduler.hosts import HostCache, HostState
from stratus.compute.scheduler.pools import Pool, Pools
from stratus.compute.scheduler.request import RequestSpec, Resources
from stratus.runtime.config import Config
from stratus.runtime.db import Database


def fleet(rng: random.Random, count: int) -> list[HostState]:
    """Hosts of a few sizes (so that many tie), some part used, a few down or disabled."""
    hosts = []
    for i in range(count):
        size = rng.choice([1, 1, 2, 4])
        hosts.append(
            HostState(
                f"h{i}",
                f"h{i}",
                i,
                f"uuid-{i}",
                vcpus=8 * size,
                memory_mb=8192 * size,
                local_gb=100 * size,
                vcpus_used=rng.choice([0, 0, 2, 5]),
                memory_mb_used=rng.choice([0, 0, 1024, 3072]),
                local_gb_used=rng.choice([0, 0, 10, 40]),
                cpu_allocation_ratio=1.0,
                ram_allocation_ratio=1.0,
                service_up=rng.random() > 0.05,
                service_disabled=rng.random() < 0.05,
            )
        )
    return hosts


def rated_by(conf: Config) -> list[weighers.Weigher]:
    spec = RequestSpec(consumers=["x"], project_id="p", flavor={})
    return [w for w in weighers.configured(conf) if w.multiplier and w.applies(spec)]


@pytest.mark.parametrize(
    "multipliers",
    [
        {},
        {"ram_weight_multiplier": 2.0, "cpu_weight_multiplier": -0.5},
        {"ram_weight_multiplier": -1.0, "cpu_weight_multiplier": 0.0, "disk_weight_multiplier": 3},
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_pool_ranks_as_a_fresh_pass_after_every_claim(
    multipliers: dict[str, float], seed: int
) -> None:
    rng = random.Random(seed)
    hosts = fleet(rng, 60)
    by = rated_by(Config(None, {"filter_scheduler": multipliers}))
    spec = RequestSpec(consumers=["x"], project_id="p", flavor={})
    floors = filters.Floors(ram=1024, disk=10, vcpus=1, up=True)
    pool = Pool(hosts, floors, by)
    dropped = 0
    for _ in range(400):
        ranked, totals = pool.ranking()
        expected = floors.select(hosts)
        assert ranked == expected and all(a is b for a, b in zip(ranked, expected, strict=True))
        assert totals == weighers.weights(expected, spec, by)
        if not ranked:
            break
        # Mostly the best host, as the scheduler claims; sometimes any other.
        chosen = ranked[weighers.best(totals, 1)[0]] if rng.random() < 0.7 else rng.choice(ranked)
        chosen.consume(Resources(rng.choice([1, 2]), rng.choice([512, 2048]), rng.choice([1, 20])))
        pool.update(chosen)
        dropped += not floors.admit(chosen)
    assert dropped  # hosts filled up and left the pool on the way


def test_a_claim_on_a_host_of_no_pool_changes_nothing() -> None:
    hosts = fleet(random.Random(7), 10)
    by = rated_by(Config(None, {}))
    pool = Pool(hosts, filters.Floors(up=True), by)
    before = pool.ranking()
    stranger = fleet(random.Random(7), 1)[0]  # equal to hosts[0], but another object
    stranger.consume(Resources(4, 4096, 50))
    pool.update(stranger)
    assert pool.ranking() == before


def test_pools_start_over_when_the_host_states_reload(db: Database, add_host) -> None:
    add_host("a", memory_mb=2048)
    add_host("b", memory_mb=4096)
    cache = HostCache(db, "nova", 60, ttl=60)
    pools = Pools(cache)
    by = rated_by(Config(None, {}))
    floors = filters.Floors(ram=1024, up=True)
    hosts, _ = pools.ranking(floors, by)
    assert [h.host for h in hosts] == ["a", "b"]
    pools.consume(hosts[0], Resources(1, 1024, 1))
    hosts, _ = pools.ranking(floors, by)
    assert [h.host for h in hosts] == ["a", "b"]  # a has 1024 MB left: still fits
    pools.consume(hosts[0], Resources(1, 512, 1))
    assert [h.host for h in pools.ranking(floors, by)[0]] == ["b"]
    cache.invalidate()  # the database never saw those claims: a is empty again
    reloaded, _ = pools.ranking(floors, by)
    assert [h.host for h in reloaded] == ["a", "b"]
    assert reloaded[0] is not hosts[0] and reloaded[0].free_ram_mb == 2048
