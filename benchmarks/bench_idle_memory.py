"""Resident memory of the all-in-one process, idle after start and after some traffic,
against a bare Python interpreter measured in the same run. Target: under 150 MB."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import admin_token, print_table, running_cloud

TARGET_MB = 150


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> None:
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    time.sleep(1)
    bare_mb = rss_mb(bare.pid)
    bare.kill()
    bare.wait()
    with running_cloud() as cloud:
        pid = cloud.cloud_pid()
        time.sleep(2)
        idle = rss_mb(pid)
        token = admin_token(cloud)
        with httpx.Client(headers={"X-Auth-Token": token}) as client:
            for _ in range(200):
                client.get(f"{cloud.url('identity')}/v3/projects").raise_for_status()
                client.get(f"{cloud.url('image')}/v2/images").raise_for_status()
        time.sleep(1)
        warm = rss_mb(pid)
    print_table(
        f"Resident memory of the all-in-one cloud (target under {TARGET_MB} MB)",
        ["process", "RSS MB", "x bare python"],
        [
            ["bare python (baseline)", bare_mb, 1.0],
            ["stratus up, idle", idle, idle / bare_mb],
            ["stratus up, after 400 requests", warm, warm / bare_mb],
        ],
    )


if __name__ == "__main__":
    main()
