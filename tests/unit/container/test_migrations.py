"""The container migrations build exactly the tables the models declare, and go down."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stratus.container.models import Base
from stratus.runtime import migrations
from stratus.runtime.db import Database


def test_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'container.sqlite'}")
    try:
        migrations.upgrade("container", db)
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in differences if "alembic_version" not in str(d)] == []
        command.downgrade(migrations._alembic_config("container", db), "base")
        migrations.upgrade("container", db)
    finally:
        db.dispose()
