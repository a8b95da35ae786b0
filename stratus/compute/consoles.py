"""Serial console tokens: the API asks the server's agent where its console listens,
records that under a random token and hands out ``<proxy URL>?token=<token>``; the
serial proxy at that URL claims the token through the conductor (once, before it
expires) and connects. Only the token's hash is stored. A token is claimed only by
the proxy whose URL it went out with, so that a proxy that reaches consoles on its own
host's loopback never opens another host's server's console."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.compute.models import ConsoleAuthToken
from stratus.runtime import console_tokens

SERIAL = "serial"


def issue(
    session: Session, instance_uuid: str, host: str, console: dict[str, Any], ttl: int
) -> str:
    """A token for the console the agent of ``host`` described: ``{"host", "port",
    "base_url"}`` (where it listens, and the URL of the proxy that reaches it)."""
    token, token_hash, expires_at = console_tokens.new_token(ttl)
    session.add(
        ConsoleAuthToken(
            token_hash=token_hash,
            instance_uuid=instance_uuid,
            console_type=SERIAL,
            host=host,
            address=console["host"],
            port=console["port"],
            proxy_url=console["base_url"],
            expires_at=expires_at,
        )
    )
    return token


def url(base_url: str, token: str) -> str:
    return f"{base_url}{'&' if '?' in base_url else '?'}token={token}"


def claim(session: Session, token: str, proxy_url: str) -> dict[str, Any] | None:
    """Where the console ``token`` opens listens (``{"instance_uuid", "host", "port"}``),
    if the proxy at ``proxy_url`` may open it; the token is spent either way."""
    row = console_tokens.take(session, ConsoleAuthToken, token)
    if row is None or row.proxy_url != proxy_url:
        return None
    return {"instance_uuid": row.instance_uuid, "host": row.address, "port": row.port}


def forget(session: Session, instance_uuid: str) -> None:
    session.execute(
        sa.delete(ConsoleAuthToken).where(ConsoleAuthToken.instance_uuid == instance_uuid)
    )
