"""Scheduler decisions per second: 1,000 fake hosts reported the way compute agents report
them, 10,000 servers of mixed flavors placed one request at a time (filters, weighers and
a claim each), by one scheduler and by several working at once with their own caches,
as separate scheduler processes would. Every run checks that no host ended overcommitted.

usage: python benchmarks/bench_scheduler.py [--hosts N] [--servers N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from common import print_table

from stratus.compute.conductor.manager import Conductor
from stratus.compute.models import Allocation, ComputeNode
from stratus.compute.scheduler.manager import NoValidHost, Scheduler
from stratus.runtime import migrations
from stratus.runtime.bus import connect
from stratus.runtime.config import Config
from stratus.runtime.db import Database, new_id
from stratus.runtime.periodic import Periodic

FLAVORS = [
    {"id": "1", "name": "m1.tiny", "vcpus": 1, "memory_mb": 512, "root_gb": 1},
    {"id": "2", "name": "m1.small", "vcpus": 1, "memory_mb": 2048, "root_gb": 20},
    {"id": "3", "name": "m1.medium", "vcpus": 2, "memory_mb": 4096, "root_gb": 40},
]
HOST = {"vcpus": 64, "memory_mb": 262144, "local_gb": 4000}
RUNS = [("one scheduler", 1, 1), ("one scheduler", 1, 8), ("four schedulers", 4, 8)]


def host_reports(conf: Config, count: int) -> list[dict[str, object]]:
    """What agents report of their hosts (the conductor records it)."""
    return [
        {
            "host": f"host-{n:04d}",
            "nodes": [
                {
                    "hypervisor_hostname": f"host-{n:04d}",
                    "hypervisor_type": "fake",
                    "hypervisor_version": 1000,
                    **HOST,
                    "cpu_allocation_ratio": conf.compute.cpu_allocation_ratio,
                    "ram_allocation_ratio": conf.compute.ram_allocation_ratio,
                    "disk_allocation_ratio": conf.compute.disk_allocation_ratio,
                    "capabilities": {"supported_instances": [["x86_64", "fake", "hvm"]]},
                }
            ],
        }
        for n in range(count)
    ]


def reset_claims(db: Database) -> None:
    with db.session() as session:
        session.execute(sa.delete(Allocation.__table__))
        session.execute(
            sa.update(ComputeNode.__table__).values(vcpus_used=0, memory_mb_used=0, local_gb_used=0)
        )


def overcommitted(db: Database) -> int:
    n = ComputeNode
    with db.session() as session:
        return (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(n)
                .where(
                    sa.or_(
                        n.memory_mb_used
                        > (n.memory_mb - n.reserved_memory_mb) * n.ram_allocation_ratio,
                        n.vcpus_used > (n.vcpus - n.reserved_vcpus) * n.cpu_allocation_ratio,
                        n.local_gb_used
                        > (n.local_gb - n.reserved_disk_gb) * n.disk_allocation_ratio,
                    )
                )
            )
            or 0
        )


def run(conf: Config, db: Database, schedulers: int, threads: int, servers: int) -> list[object]:
    pool = [Scheduler(conf, db) for _ in range(schedulers)]

    def place(i: int) -> float | None:
        spec = {"consumers": [new_id()], "project_id": "bench", "flavor": FLAVORS[i % len(FLAVORS)]}
        started = time.perf_counter()
        try:
            pool[i % schedulers].select_destinations(spec)
        except NoValidHost:
            return None
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as executor:
        latencies = list(executor.map(place, range(servers)))
    elapsed = time.perf_counter() - started
    placed = sorted(t for t in latencies if t is not None)
    return [
        threads,
        len(placed),
        servers - len(placed),
        elapsed,
        len(placed) / elapsed,
        statistics.median(placed) * 1000,
        placed[min(len(placed) - 1, int(len(placed) * 0.99))] * 1000,
        overcommitted(db),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as root:
        path = Path(root) / "stratus.conf"
        path.write_text(f"[DEFAULT]\ndata_dir = {root}\n")
        conf = Config(path)
        db = Database(args.database_url or f"sqlite:///{root}/compute.sqlite")
        migrations.upgrade("compute", db)
        bus = connect(f"memory://bench-{new_id()}")
        conductor = Conductor(conf, db, bus)
        reports = host_reports(conf, args.hosts)
        # The agents' heartbeats go on while the schedulers work, as in a running cloud.
        heartbeat = Periodic(
            "heartbeats", conf.compute.report_interval, lambda: conductor.report(hosts=reports)
        )
        conductor.report(hosts=reports)
        heartbeat.start(run_now=False)
        rows = []
        try:
            for name, schedulers, threads in RUNS:
                reset_claims(db)
                rows.append([name, *run(conf, db, schedulers, threads, args.servers)])
        finally:
            heartbeat.stop()
            bus.close()
            db.dispose()
    print_table(
        f"Scheduler: {args.hosts} fake hosts, {args.servers} servers "
        f"({db.engine.dialect.name}; filters, weighers and a claim per decision)",
        [
            "schedulers",
            "threads",
            "placed",
            "failed",
            "seconds",
            "decisions/s",
            "p50 ms",
            "p99 ms",
            "overcommitted hosts",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
