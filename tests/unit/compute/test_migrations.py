"""The compute migrations build exactly the tables the models declare, on SQLite and,
when a server answers on loopback, on PostgreSQL and MariaDB; and the default flavors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stratus.compute.flavors import DEFAULT_FLAVORS, create_default_flavors
from stratus.compute.models import Base, Flavor
from stratus.runtime import migrations
from stratus.runtime.db import Database
from stratus.runtime.process import Runtime
from stratus.testing.cloud import scratch_database


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _check(url: str) -> None:
    db = Database(url)
    try:
        migrations.upgrade("compute", db)
        migrations.upgrade("compute", db)  # idempotent
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in differences if "alembic_version" not in str(d)] == []
        command.downgrade(migrations._alembic_config("compute", db), "base")
        migrations.upgrade("compute", db)
    finally:
        db.dispose()


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'compute.sqlite'}")


@pytest.mark.parametrize(("kind", "port"), [("postgresql", 5432), ("mariadb", 3306)])
def test_server_databases(kind: str, port: int) -> None:
    if not _listening(port):
        pytest.skip(f"no {kind} on 127.0.0.1:{port}")
    with scratch_database(kind) as url:
        _check(url)


def test_default_flavors_are_created_once(runtime: Runtime) -> None:
    assert create_default_flavors(runtime) == [name for name, *_ in DEFAULT_FLAVORS]
    assert create_default_flavors(runtime) == []
    with runtime.database("compute").session() as session:
        flavors = {f.name: f for f in session.query(Flavor)}
    assert (flavors["m1.nano"].memory_mb, flavors["m1.nano"].vcpus) == (64, 1)
    assert (flavors["m1.small"].memory_mb, flavors["m1.small"].root_gb) == (2048, 20)
    assert all(f.is_public for f in flavors.values())
