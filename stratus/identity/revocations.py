"""Token revocation events: one token by its audit id, or every token of a user or a
project issued up to now. Events older than the longest token lifetime match nothing
that is still valid, and are pruned as new ones are recorded."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.identity.models import RevocationEvent
from stratus.identity.tokens import TokenPayload
from stratus.runtime.db import utcnow


def revoke_token(session: Session, audit_id: str, lifetime: int) -> None:
    _record(session, RevocationEvent(audit_id=audit_id), lifetime)


def revoke_user(session: Session, user_id: str, lifetime: int) -> None:
    _record(session, RevocationEvent(user_id=user_id), lifetime)


def revoke_project(session: Session, project_id: str, lifetime: int) -> None:
    _record(session, RevocationEvent(project_id=project_id), lifetime)


def is_revoked(session: Session, payload: TokenPayload) -> bool:
    issued = RevocationEvent.issued_before >= payload.issued_at
    matches = [
        RevocationEvent.audit_id == payload.audit_ids[0],
        sa.and_(RevocationEvent.user_id == payload.user_id, issued),
    ]
    if payload.project_id is not None:
        matches.append(sa.and_(RevocationEvent.project_id == payload.project_id, issued))
    stmt = sa.select(RevocationEvent.id).where(sa.or_(*matches)).limit(1)
    return session.scalar(stmt) is not None


def _record(session: Session, event: RevocationEvent, lifetime: int) -> None:
    now = utcnow()
    event.issued_before = now
    session.add(event)
    horizon = now - timedelta(seconds=lifetime + 60)
    session.execute(sa.delete(RevocationEvent).where(RevocationEvent.issued_before < horizon))
