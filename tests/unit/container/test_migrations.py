"""The container migrations build exactly the tables the models declare, and go down
again, on SQLite and, when a server answers on loopback, on PostgreSQL and MariaDB."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stratus.container.models import Base
from stratus.runtime import migrations
from stratus.runtime.db import Database
from stratus.testing.cloud import scratch_database


def _check(url: str) -> None:
    db = Database(url)
    try:
        migrations.upgrade("container", db)
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in differences if "alembic_version" not in str(d)] == []
        command.downgrade(migrations._alembic_config("container", db), "base")
        migrations.upgrade("container", db)
    finally:
        db.dispose()


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'container.sqlite'}")


@pytest.mark.parametrize(("kind", "port"), [("postgresql", 5432), ("mariadb", 3306)])
def test_server_databases(kind: str, port: int) -> None:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            pytest.skip(f"no {kind} on 127.0.0.1:{port}")
    with scratch_database(kind) as url:
        _check(url)
