"""Tags on resources: plain strings, no commas (lists of them are comma-separated in
filters), at most 60 characters each."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.models import TAG
from stratus.runtime.api.errors import BadRequest

MAX_TAGS = 50


def check(tag: object) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > TAG or "," in tag:
        raise BadRequest(
            f"Invalid input for tags. Reason: {tag!r} is not a string of 1 to {TAG} "
            "characters without commas.",
            error_type="InvalidInput",
        )
    return tag


def replace(session: Session, resource: models.StandardAttrs, tags: Iterable[object]) -> None:
    """Make the resource's tags exactly ``tags`` (and raise its revision)."""
    wanted = sorted({check(tag) for tag in tags})
    if len(wanted) > MAX_TAGS:
        raise BadRequest(f"A resource holds at most {MAX_TAGS} tags.", error_type="InvalidInput")
    drop(session, resource.id)
    session.add_all(models.Tag(resource_id=resource.id, tag=tag) for tag in wanted)
    resource.touch()
    session.flush()
    session.expire(resource, ["tags"])


def drop(session: Session, resource_id: str) -> None:
    session.execute(sa.delete(models.Tag).where(models.Tag.resource_id == resource_id))
