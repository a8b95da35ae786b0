"""Docker's container state and stats, as the API shows them."""

from __future__ import annotations

from stratus.container.agent.docker import state_of, summarize_stats


def test_states() -> None:
    assert state_of({"Status": "running"}).status == "Running"
    assert state_of({"Status": "running", "Paused": True}).status == "Paused"
    assert state_of({"Status": "created"}).status == "Created"
    exited = state_of({"Status": "exited", "ExitCode": 3, "FinishedAt": "2026-01-01T00:00:00Z"})
    assert (exited.status, exited.detail) == ("Stopped", "Exited (3) 2026-01-01T00:00:00Z")
    dead = state_of({"Status": "dead", "Error": "oom"})
    assert (dead.status, dead.reason) == ("Error", "oom")
    assert state_of({"Status": "whatever"}).status == "Unknown"


def test_stats_summary() -> None:
    raw = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 300},
            "system_cpu_usage": 2000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 32 * 2**20, "limit": 64 * 2**20},
        "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 5}]},
    }
    stats = summarize_stats(raw)
    assert stats["CPU %"] == 40.0
    assert (stats["MEM USAGE(MiB)"], stats["MEM LIMIT(MiB)"], stats["MEM %"]) == (32, 64, 50)
    assert (stats["NET I/O(B)"], stats["BLOCK I/O(B)"]) == ("10/20", "5/0")
    assert summarize_stats({})["CPU %"] == 0.0
