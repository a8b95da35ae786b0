"""``openstack server list --long`` with 1,000 servers: ``GET /servers/detail`` over HTTP
with the paging the client does, and the real command end to end, against the client's
own start-up (``openstack --version``, and the same command on a project with no servers)
measured in the same run as its baseline.

The cloud: all-in-one (identity, image, compute), started the way ``make run`` starts one,
its APIs over real HTTP; the compute agent runs the fake driver (10 simulated hosts). The
servers are made through the API's own path: multiple create (``min_count`` =
``max_count`` = 100, m1.nano, one image, no network) ten times, as the admin's project,
then awaited until all are ACTIVE. The client sends one ``GET /servers/detail`` and
follows ``servers_links`` while there are any; the HTTP row does the same (the table says
how many pages that took). Nothing is made on the host.

Most of the command's time with many servers is the client's own: openstacksdk builds a
resource object per server (the HTTP row is the server side of it).

usage: python benchmarks/bench_server_list.py [--servers N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
from common import admin_token, exit_on_sigterm, print_table, running_cloud

from stratus.testing.cloud import Cloud

SERVICES = ["identity", "image", "compute"]
CONFIG = """[compute]
compute_driver = fake
[fake_driver]
host_count = 10
vcpus = 64
memory_mb = 65536
"""
PER_REQUEST = 100
REST_RUNS = 20
VERSION = {"OpenStack-API-Version": "compute 2.79"}


class Api:
    """The cloud's APIs as its admin."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.client = httpx.Client(headers={"X-Auth-Token": admin_token(cloud)}, timeout=120)
        self.pages = 0  # in the last list

    def call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, self.cloud.url(service) + path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def make_servers(self, count: int) -> None:
        """``count`` servers by multiple create, awaited until every one is ACTIVE."""
        projects = self.call("GET", "identity", "/v3/projects", params={"name": "admin"})
        unlimited = {"instances": -1, "cores": -1, "ram": -1}
        quotas = f"/v2.1/os-quota-sets/{projects['projects'][0]['id']}"
        self.call("PUT", "compute", quotas, json={"quota_set": unlimited})
        image = self.call(
            "POST",
            "image",
            "/v2/images",
            json={"name": "img", "disk_format": "qcow2", "container_format": "bare"},
        )
        self.call(
            "PUT",
            "image",
            f"/v2/images/{image['id']}/file",
            content=b"disk",
            headers={"Content-Type": "application/octet-stream"},
        )
        for first in range(0, count, PER_REQUEST):
            n = min(PER_REQUEST, count - first)
            server = {
                "name": f"s{first // PER_REQUEST}",
                "imageRef": image["id"],
                "flavorRef": "42",  # m1.nano
                "networks": "none",
                "min_count": n,
                "max_count": n,
            }
            self.call("POST", "compute", "/v2.1/servers", json={"server": server}, headers=VERSION)
        deadline = time.monotonic() + 600
        while self.count("ACTIVE") < count:
            if self.count("ERROR") or time.monotonic() > deadline:
                raise RuntimeError(f"{self.count('ACTIVE')} of {count} servers became ACTIVE")
            time.sleep(0.5)

    def count(self, status: str) -> int:
        return len(self.list_detail({"status": status}))

    def list_detail(self, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every server, page after page as the client asks for them: the next page from
        the response's ``next`` link, until a page has none."""
        servers: list[dict[str, Any]] = []
        url: str | None = f"{self.cloud.url('compute')}/v2.1/servers/detail"
        self.pages = 0
        while url:
            self.pages += 1
            response = self.client.get(url, params=params, headers=VERSION)
            response.raise_for_status()
            body = response.json()
            servers += body["servers"]
            links = body.get("servers_links", [])
            url = next((link["href"] for link in links if link["rel"] == "next"), None)
            params = None  # the next link carries them
        return servers


def timed(runs: int, operation: Callable[[], None], warm_up: bool = False) -> list[float]:
    """``operation`` run ``runs`` times (after an untimed one with ``warm_up``); seconds."""
    if warm_up:
        operation()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return times


def median_p95(times: list[float]) -> list[float]:
    ordered = sorted(t * 1000 for t in times)
    return [statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]]


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command")
    args = parser.parse_args()
    with running_cloud(SERVICES, config=CONFIG) as cloud:
        api = Api(cloud)
        started = time.perf_counter()
        api.make_servers(args.servers)
        made = time.perf_counter() - started

        def rest() -> None:
            assert len(api.list_detail()) == args.servers

        def server_list(cloud_name: str, rows: int) -> Callable[[], None]:
            def run() -> None:
                out = cloud.openstack("server", "list", "--long", cloud=cloud_name).stdout
                assert max(0, sum(line.startswith("| ") for line in out.splitlines()) - 1) == rows

            return run

        version = timed(args.runs, lambda: cloud.openstack("--version"), warm_up=True)
        empty = timed(args.runs, server_list("stratus-demo", 0))
        full = timed(args.runs, server_list("stratus", args.servers))
        http = timed(REST_RUNS, rest, warm_up=True)
    full_ms, empty_ms = median_p95(full), median_p95(empty)
    print_table(
        f"server list --long with {args.servers:,} servers (fake driver, all-in-one over HTTP; "
        f"made by {-(-args.servers // PER_REQUEST)} multiple creates, ACTIVE in {made:.1f} s; ms)",
        ["what", "runs", "median", "p95"],
        [
            [f"GET /servers/detail ({api.pages} page(s), 2.79)", REST_RUNS, *median_p95(http)],
            ["openstack server list --long", args.runs, *full_ms],
            ["baseline: the same on a project with no servers", args.runs, *empty_ms],
            ["baseline: openstack --version", args.runs, *median_p95(version)],
            [
                "the servers' share (list - empty list)",
                "",
                *(f - e for f, e in zip(full_ms, empty_ms, strict=True)),
            ],
        ],
    )


if __name__ == "__main__":
    main()
