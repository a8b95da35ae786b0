"""Timestamps as the Keystone API writes and reads them."""

from __future__ import annotations

from datetime import UTC, datetime


def isotime(moment: datetime) -> str:
    """``2026-01-02T03:04:05.000000Z`` from a naive UTC datetime."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """A naive UTC datetime from ISO 8601 text; no offset means UTC. ValueError if bad."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
