"""What the benchmarks share: a temporary all-in-one cloud, timing and table printing."""

from __future__ import annotations

import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from stratus.testing.cloud import Cloud


@contextmanager
def running_cloud(services: list[str] | None = None) -> Iterator[Cloud]:
    """An all-in-one cloud in a temporary directory, stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as root:
        cloud = Cloud.create(Path(root), services=services)
        cloud.start()
        try:
            yield cloud
        finally:
            cloud.destroy()


def admin_token(cloud: Cloud) -> str:
    password = json.loads((cloud.root / "data" / "credentials.json").read_text())["admin_password"]
    response = httpx.post(f"{cloud.url('identity')}/v3/auth/tokens", json=password_auth(password))
    response.raise_for_status()
    return response.headers["x-subject-token"]


def password_auth(password: str, user: str = "admin", project: str = "admin") -> dict:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }


@dataclass(frozen=True)
class Rate:
    per_second: float
    p50_ms: float
    p99_ms: float


def measure(operation: Callable[[httpx.Client], None], *, concurrency: int, count: int) -> Rate:
    """Run ``operation`` ``count`` times over ``concurrency`` threads, each with its own
    HTTP connection; the rate and latency percentiles."""
    per_worker = max(1, count // concurrency)

    def worker(_: int) -> list[float]:
        latencies = []
        with httpx.Client(timeout=60) as client:
            for _ in range(per_worker):
                start = time.perf_counter()
                operation(client)
                latencies.append(time.perf_counter() - start)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [value for chunk in pool.map(worker, range(concurrency)) for value in chunk]
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Rate(
        per_second=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    )


def exit_on_sigterm() -> None:
    """Turn SIGTERM (a timeout's, a supervisor's) into SystemExit, so that a benchmark that
    is stopped still runs its clean-up of the host."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    cells = [headers, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)
