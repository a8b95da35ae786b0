"""Database access: one engine per service, SQLite (WAL) by default, any SQLAlchemy URL else.

Each service declares its tables on its own :class:`sqlalchemy.orm.DeclarativeBase` and
names them ``<service>_<thing>``, so that services can share one PostgreSQL or MariaDB
database without colliding, and each keeps its own Alembic history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from stratus.runtime import sqlite_writes
from stratus.runtime.config import Config


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (what every database stores alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


def database_url(conf: Config, service: str) -> str:
    url = conf.database.connection
    if url:
        return url
    conf.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(conf.data_dir) / f'{service}.sqlite'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": 30,
                "factory": sqlite_writes.Connection,
            },
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=3600
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """A service's engine and its sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
