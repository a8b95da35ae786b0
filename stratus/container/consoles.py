"""Console tokens: the API hands out a websocket URL with a random token for one
container's attach or exec stream; the websocket proxy of that container's host claims
it (once, before it expires) through the conductor. Only the token's hash is stored."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.container.models import ConsoleToken
from stratus.runtime import console_tokens


def issue(session: Session, container_uuid: str, host: str, exec_id: str | None, ttl: int) -> str:
    token, token_hash, expires_at = console_tokens.new_token(ttl)
    session.add(
        ConsoleToken(
            token_hash=token_hash,
            container_uuid=container_uuid,
            host=host,
            exec_id=exec_id,
            expires_at=expires_at,
        )
    )
    return token


def claim(session: Session, token: str, host: str) -> dict[str, Any] | None:
    """The stream ``token`` opens on ``host``, or None; the token is spent either way,
    and expired ones are swept."""
    row = console_tokens.take(session, ConsoleToken, token)
    if row is None or row.host != host:
        return None
    return {"uuid": row.container_uuid, "exec_id": row.exec_id}


def forget(session: Session, container_uuid: str) -> None:
    session.execute(sa.delete(ConsoleToken).where(ConsoleToken.container_uuid == container_uuid))
