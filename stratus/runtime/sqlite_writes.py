"""One writer at a time per SQLite file within a process, queued on a lock.

SQLite lets one connection write at a time; the others wait in its busy handler, which
sleeps 1, 2, 5 ... up to 100 ms between tries. In one process (the all-in-one cloud, where
every thread shares each service's file) a lock taken just before a transaction's first
write hands the file over as soon as the writer commits, without those sleeps."""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_GUARD = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Connection(sqlite3.Connection):
    """A connection whose writes take its file's lock until they commit or roll back."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._timeout = float(kwargs.get("timeout", 5.0))
        self._lock: threading.Lock | None = None  # an in-memory database is its own
        if str(database) not in ("", ":memory:") and "mode=memory" not in str(database):
            with _GUARD:
                self._lock = _LOCKS[str(database)]
        self._holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:
        return super().cursor(factory or Cursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)  # the builtin skips cursor()

    def executemany(self, sql: str, seq: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, seq)

    def take(self, statement: str) -> None:
        """Wait for the file's lock before a statement that opens a write transaction."""
        if self._lock is None or self._holding or self.in_transaction:
            return
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            if not self._lock.acquire(timeout=self._timeout):
                raise sqlite3.OperationalError("database is locked")
            self._holding = True

    def settle(self) -> None:
        """Give the lock back once no transaction is open."""
        if self._holding and not self.in_transaction:
            self._give_back()

    def commit(self) -> None:
        self._ending(super().commit)

    def rollback(self) -> None:
        self._ending(super().rollback)

    def __exit__(self, *exc: Any) -> Any:
        return self._ending(super().__exit__, *exc)  # ends the transaction without commit()

    def _ending(self, end: Callable[..., Any], *args: Any) -> Any:
        try:
            return end(*args)
        finally:
            self.settle()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()

    def __del__(self) -> None:
        self._give_back()  # a connection dropped unclosed has no transaction left

    def _give_back(self) -> None:
        if getattr(self, "_holding", False) and self._lock is not None:
            self._holding = False
            self._lock.release()


class Cursor(sqlite3.Cursor):
    """A cursor whose statements go through its connection's lock."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        return self._locked(super().execute, sql, parameters)

    def executemany(self, sql: str, seq: Any, /) -> Cursor:
        return self._locked(super().executemany, sql, seq)

    def _locked(self, run: Callable[[str, Any], Cursor], sql: str, arg: Any) -> Cursor:
        connection: Connection = self.connection  # type: ignore[assignment]
        connection.take(sql)
        try:
            return run(sql, arg)
        finally:
            connection.settle()
