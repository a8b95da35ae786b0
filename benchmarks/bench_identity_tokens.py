"""Token issue and validate through the identity API: rate and latency at concurrency 1
and 16, against the same server's /healthcheck as the raw HTTP floor of this machine."""

from __future__ import annotations

import httpx
from common import admin_token, measure, print_table, running_cloud

from stratus.testing.cloud import password_auth


def main() -> None:
    with running_cloud(["identity"]) as cloud:
        base = cloud.url("identity")
        body = password_auth("admin", cloud.admin_password, "admin")
        service_token = admin_token(cloud)
        subject = admin_token(cloud)

        def healthcheck(client: httpx.Client) -> None:
            client.get(f"{base}/healthcheck").raise_for_status()

        def issue(client: httpx.Client) -> None:
            client.post(f"{base}/v3/auth/tokens", json=body).raise_for_status()

        def validate(client: httpx.Client) -> None:
            headers = {"X-Auth-Token": service_token, "X-Subject-Token": subject}
            client.get(f"{base}/v3/auth/tokens", headers=headers).raise_for_status()

        rows = []
        for concurrency in (1, 16):
            floor = measure(healthcheck, concurrency=concurrency, count=400)
            for name, operation, count in (("issue", issue, 160), ("validate", validate, 400)):
                rate = measure(operation, concurrency=concurrency, count=count)
                rows.append(
                    [
                        name,
                        concurrency,
                        rate.per_second,
                        rate.p50_ms,
                        rate.p99_ms,
                        floor.per_second,
                        floor.per_second / rate.per_second,
                    ]
                )
        print_table(
            "Identity tokens (all-in-one, SQLite)",
            [
                "operation",
                "concurrency",
                "per s",
                "p50 ms",
                "p99 ms",
                "healthcheck per s",
                "x slower than healthcheck",
            ],
            rows,
        )


if __name__ == "__main__":
    main()
