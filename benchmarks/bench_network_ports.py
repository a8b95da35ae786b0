"""Ports created per second through the network API over real HTTP, at concurrency 1 and
10, against the same server's cheapest authenticated GET (``/v2.0/networks?limit=1``)
at the same concurrency as the floor of this machine.

The network API is served on a loopback port (uvicorn, SQLite) with the real identity
service in-process validating the callers' tokens (cached after the first check, as
keystonemiddleware does). No agents run: this measures the API and the database alone.
Nothing is made on the host.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from common import measure, print_table

from stratus.identity.bootstrap import CatalogEntry
from stratus.network.api import build_app, make_backend
from stratus.runtime import migrations
from stratus.runtime.identity_client import IdentityClient
from stratus.runtime.process import Runtime
from stratus.testing.identity import start_identity, write_config
from stratus.testing.serve import serve

SERVICE_PASSWORD = "neutron-secret"
COUNT = 400
CIDR = "10.80.0.0/20"  # room for every port the runs create


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stratus-bench-ports-") as work:
        root = Path(work)
        (root / "identity").mkdir()
        identity = start_identity(
            root / "identity",
            {"neutron": SERVICE_PASSWORD},
            [CatalogEntry("network", "neutron", "http://127.0.0.1:9696")],
        )
        (root / "network").mkdir()
        quotas = "[quotas]\nquota_port = -1\n"
        runtime = Runtime(
            write_config(
                root / "network", f"[network]\nservice_password = {SERVICE_PASSWORD}\n{quotas}"
            )
        )
        try:
            migrations.upgrade("network", runtime.database("network"))
            validator = IdentityClient(runtime.conf, "network", http=identity.client)
            app = build_app(make_backend(runtime), validator)
            with serve(app) as base:
                rows = run(f"{base}/v2.0", identity.users["demo"].headers)
        finally:
            runtime.close()
            identity.close()
    print_table(
        f"Ports created through the network API (real HTTP, SQLite, no agents; {COUNT} per run)",
        [
            "concurrency",
            "ports per s",
            "p50 ms",
            "p99 ms",
            "GET networks per s",
            "GET p50 ms",
            "GET p99 ms",
            "x slower than GET",
        ],
        rows,
    )


def run(api: str, headers: dict[str, str]) -> list[list[object]]:
    with httpx.Client(headers=headers) as client:
        body = {"network": {"name": "bench"}}
        network = client.post(f"{api}/networks", json=body).raise_for_status().json()["network"]
        subnet = {"network_id": network["id"], "cidr": CIDR, "ip_version": 4}
        client.post(f"{api}/subnets", json={"subnet": subnet}).raise_for_status()

    def create_port(client: httpx.Client) -> None:
        port = {"port": {"network_id": network["id"]}}
        client.post(f"{api}/ports", json=port, headers=headers).raise_for_status()

    def list_networks(client: httpx.Client) -> None:
        client.get(f"{api}/networks?limit=1", headers=headers).raise_for_status()

    rows: list[list[object]] = []
    for concurrency in (1, 10):
        floor = measure(list_networks, concurrency=concurrency, count=COUNT)
        ports = measure(create_port, concurrency=concurrency, count=COUNT)
        rows.append(
            [
                concurrency,
                ports.per_second,
                ports.p50_ms,
                ports.p99_ms,
                floor.per_second,
                floor.p50_ms,
                floor.p99_ms,
                floor.per_second / ports.per_second,
            ]
        )
    return rows


if __name__ == "__main__":
    main()
