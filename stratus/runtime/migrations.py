"""Alembic, driven from code: every service keeps its own history and version table.

A service's migrations live in ``stratus/<service>/migrations`` with an ``env.py`` that
just calls :func:`run_env` with its metadata.
"""

from __future__ import annotations

from importlib import resources

from alembic import command, context
from alembic.config import Config as AlembicConfig
from sqlalchemy import MetaData

from stratus.runtime.db import Database


def _alembic_config(service: str, db: Database) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option(
        "script_location", str(resources.files(f"stratus.{service}") / "migrations")
    )
    cfg.attributes["engine"] = db.engine
    cfg.attributes["version_table"] = f"alembic_version_{service}"
    return cfg


def upgrade(service: str, db: Database, revision: str = "head") -> None:
    """Bring a service's tables to ``revision`` (idempotent)."""
    command.upgrade(_alembic_config(service, db), revision)


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``env.py``: online migrations on the given engine."""
    cfg = context.config
    with cfg.attributes["engine"].connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=cfg.attributes["version_table"],
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
