"""The compute service on PostgreSQL and MariaDB (when they answer on loopback): the
queries that differ between databases (regular expressions, JSON fields, conditional
claims, tags) give the same answers as on SQLite."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from stratus.testing.cloud import scratch_database
from tests.api.compute.conftest import Cloud, Env, make_env

SERVERS = {"postgresql": 5432, "mariadb": 3306}


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(params=sorted(SERVERS))
def dbenv(
    request: pytest.FixtureRequest, cloud: Cloud, compute_tables: Path, tmp_path: Path
) -> Iterator[Env]:
    if not _listening(SERVERS[request.param]):
        pytest.skip(f"no {request.param} on loopback")
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(request.param))
        env = contextmanager(make_env)(cloud, compute_tables, tmp_path, database_url=url)
        yield stack.enter_context(env)


def test_servers_on_server_databases(dbenv: Env) -> None:
    env = dbenv
    first = env.boot(name="web-1", tags=["red"], metadata={"k": "v"})
    second = env.boot(name="web-2", flavorRef="42", tags=["red", "blue"])
    env.boot(name="db")

    def names(**query: str) -> list[str]:
        listed = env.ok("GET", "/servers", params=query, version="2.79")["servers"]
        return sorted(s["name"] for s in listed)

    assert names(name="^web-[0-9]$") == ["web-1", "web-2"]
    assert names(flavor="42") == ["web-2"]
    assert names(status="ACTIVE", tags="red") == ["web-1", "web-2"]
    assert names(**{"not-tags-any": "blue"}) == ["db", "web-1"]
    page = env.ok(
        "GET", "/servers", params={"limit": 1, "sort_key": "display_name", "sort_dir": "asc"}
    )
    assert [s["name"] for s in page["servers"]] == ["db"]
    assert env.action(first["id"], {"resize": {"flavorRef": "2"}}).status_code == 202
    env.wait(first["id"], "VERIFY_RESIZE")
    assert env.action(first["id"], {"confirmResize": None}).status_code == 204
    env.wait(first["id"], "ACTIVE")
    stats = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert stats["memory_mb_used"] == 2048 + 64 + 512
    assert env.call("DELETE", f"/servers/{second['id']}").status_code == 204
    env.wait_gone(second["id"])
    assert env.ok("GET", "/limits")["limits"]["absolute"]["totalInstancesUsed"] == 2
