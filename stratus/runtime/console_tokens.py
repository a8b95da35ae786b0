"""Single-use, expiring console tokens: the client gets a random token in a URL, the
service's table keeps only its hash, and the proxy that receives the URL claims the row
once (through the service's conductor side), before it expires.

A token table has a ``token_hash`` primary key (sha256 hex, 64 characters) and an
``expires_at`` time; the rest (what the token opens) is the service's own.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.runtime.db import utcnow

HASH_LENGTH = 64
Row = TypeVar("Row")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(ttl: int) -> tuple[str, str, datetime]:
    """A fresh token, its hash and when it expires."""
    token = secrets.token_urlsafe(32)
    return token, digest(token), utcnow() + timedelta(seconds=ttl)


def take(session: Session, table: type[Row], token: str) -> Row | None:
    """The row ``token`` names, deleted (spent), or None; expired rows are swept first."""
    model: Any = table
    session.execute(sa.delete(model).where(model.expires_at <= utcnow()))
    row = session.get(table, digest(token))
    if row is not None:
        session.delete(row)
    return row
