"""Writes to one SQLite file from the threads of a process queue on its lock: every write
lands, reads never wait for it, and the lock is given back however a transaction ends."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from stratus.runtime import sqlite_writes
from stratus.runtime.db import Database


def connect(path: Path, timeout: float = 5.0) -> sqlite_writes.Connection:
    connection = sqlite3.connect(
        path, timeout=timeout, check_same_thread=False, factory=sqlite_writes.Connection
    )
    assert isinstance(connection, sqlite_writes.Connection)
    return connection


def locked(path: Path) -> bool:
    return sqlite_writes._LOCKS[str(path)].locked()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "t.sqlite"
    with connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        setup.execute("INSERT INTO t VALUES (1, 0)")
    return path


def test_every_write_of_many_threads_lands(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with db.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(sa.text("INSERT INTO t VALUES (1, 0)"))

    def add(_: int) -> None:
        with db.session() as session:  # a read, then a write of what was read
            n = session.execute(sa.text("SELECT n FROM t WHERE id = 1")).scalar_one()
            session.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = 1"))
            assert n >= 0

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(200)))
    with db.session() as session:
        assert session.execute(sa.text("SELECT n FROM t")).scalar_one() == 200
    db.dispose()


def test_a_writer_waits_for_the_open_write_and_a_reader_does_not(path: Path) -> None:
    first, second, reader = connect(path), connect(path), connect(path)
    assert not locked(path)
    first.execute("UPDATE t SET n = 1")  # an open write transaction
    assert locked(path)
    wrote = threading.Event()

    def write() -> None:
        second.execute("UPDATE t SET n = n + 10")
        wrote.set()
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    assert reader.execute("SELECT n FROM t").fetchone() == (0,)  # the last commit's value
    assert not wrote.wait(0.3)  # queued on the lock (not failed, not through)
    first.commit()
    assert wrote.wait(5)
    thread.join()
    assert reader.execute("SELECT n FROM t").fetchone() == (11,)
    assert not locked(path)


@pytest.mark.parametrize("end", ["rollback", "close", "failed statement"])
def test_the_lock_is_given_back_however_the_write_ends(path: Path, end: str) -> None:
    writer = connect(path)
    if end == "failed statement":  # refused before any transaction began
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            writer.execute("UPDATE missing SET n = 5")
        assert not writer.in_transaction
    else:
        writer.execute("UPDATE t SET n = 7")
        assert locked(path)
        getattr(writer, end)()
    assert not locked(path)
    other = connect(path, timeout=1.0)  # a lock kept would fail this after a second
    other.execute("UPDATE t SET n = 3")
    other.commit()
    assert other.execute("SELECT n FROM t").fetchone() == (3,)


def test_in_memory_databases_share_no_lock() -> None:
    """Each in-memory database is a database of its own: one thread may write to two."""
    first, second = connect(Path(":memory:")), connect(Path(":memory:"))
    for connection in (first, second):
        connection.execute("CREATE TABLE t (n INTEGER)")
        connection.execute("INSERT INTO t VALUES (1)")  # both transactions open at once
    assert not locked(Path(":memory:"))
    first.commit()
    second.commit()
