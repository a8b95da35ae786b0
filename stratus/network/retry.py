"""Transactions that are run again when a concurrent one got there first.

Allocations (addresses, segments, MACs, default security groups) insert rows under keys
that make a second holder impossible, and updates carry the row's revision; the loser of
a race sees an IntegrityError or StaleDataError, or on SQLite a busy database, and its
whole transaction runs again against what the winner committed. Checks made in the work
(an address already taken, a CIDR that overlaps) then give the caller a clear 4xx.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from stratus.runtime.api.errors import Conflict
from stratus.runtime.db import Database

T = TypeVar("T")
ATTEMPTS = 40
_attempt: ContextVar[int] = ContextVar("stratus_network_attempt", default=1)

# PostgreSQL serialization failure and deadlock; MariaDB deadlock and lock wait timeout.
_PG_STATES = {"40001", "40P01"}
_MYSQL_CODES = {1205, 1213}


def attempt() -> int:
    """Which run of the current transaction this is (1 for the first): allocators pick
    the lowest free value at first and spread out when they lost a race."""
    return _attempt.get()


def is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, IntegrityError | StaleDataError):
        return True
    if isinstance(exc, OperationalError):
        orig = exc.orig
        if getattr(orig, "sqlstate", None) in _PG_STATES:
            return True
        args = getattr(orig, "args", ())
        if args and args[0] in _MYSQL_CODES:
            return True
        return "database is locked" in str(orig)
    return False


def transaction(db: Database, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a transaction, again while it loses races to concurrent ones."""
    for number in range(1, ATTEMPTS + 1):
        token = _attempt.set(number)
        try:
            with db.session() as session:
                return work(session)
        except Exception as exc:
            if not is_conflict(exc):
                raise
        finally:
            _attempt.reset(token)
        time.sleep(random.uniform(0, min(0.25, 0.002 * 2**number)))
    raise Conflict(
        "The request kept conflicting with concurrent changes; try it again.",
        error_type="ConcurrentUpdate",
    )
