"""Issuing and validating tokens; the identity API's own token validator.

Validation is the one place that decides whether a token still stands: signature and
expiry, revocation events, the user, project or domain and application credential
still existing and enabled, and at least one role on the scope. The token body is
built on the way, with the roles and names as they are now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.identity import assignments, revocations
from stratus.identity.catalog import build_catalog
from stratus.identity.keys import KeyRepository
from stratus.identity.models import AppCredRole, ApplicationCredential, Domain, Project, User
from stratus.identity.times import isotime
from stratus.identity.tokens import InvalidToken, TokenCodec, TokenPayload, new_audit_id
from stratus.runtime.api.errors import Unauthorized
from stratus.runtime.config import Config
from stratus.runtime.db import Database, utcnow

LOG = logging.getLogger(__name__)
INVALID_TOKEN = "The token is invalid, expired or revoked."


@dataclass(frozen=True)
class Grant:
    """What an authentication established, for a token to be issued for."""

    user_id: str
    methods: tuple[str, ...]
    project_id: str | None = None
    domain_id: str | None = None
    app_cred_id: str | None = None
    expires_at: datetime | None = None  # earlier than the usual lifetime (rescope, app cred)
    parent_audit_id: str | None = None  # the token this one was rescoped from


class TokenProvider:
    def __init__(self, conf: Config, db: Database) -> None:
        self.db = db
        self.lifetime: int = conf.identity.token_expiration
        self.codec = TokenCodec(KeyRepository.from_conf(conf))

    def issue(self, session: Session, grant: Grant) -> tuple[str, dict[str, Any]]:
        """A new token for the grant: its id and its body (with the catalog)."""
        now = utcnow()
        expires = now + timedelta(seconds=self.lifetime)
        if grant.expires_at is not None:
            expires = min(expires, grant.expires_at)
        audit_ids = (new_audit_id(),)
        if grant.parent_audit_id:
            audit_ids += (grant.parent_audit_id,)
        payload = TokenPayload(
            user_id=grant.user_id,
            methods=grant.methods,
            issued_at=now,
            expires_at=expires.replace(microsecond=0),
            audit_ids=audit_ids,
            project_id=grant.project_id,
            domain_id=grant.domain_id,
            app_cred_id=grant.app_cred_id,
        )
        return self.codec.encode(payload), self.render(session, payload, catalog=True)

    def inspect(
        self, session: Session, token: str, *, catalog: bool
    ) -> tuple[TokenPayload, dict[str, Any]]:
        """The payload and body of a valid token; InvalidToken otherwise."""
        payload = self.codec.decode(token)
        return payload, self.render(session, payload, catalog=catalog)

    def cached(self, token: str) -> None:
        """Nothing: the identity service reads a token's standing afresh every time."""
        return None

    def validate(self, token: str) -> dict[str, Any]:
        """The body of a valid token, without the catalog; Unauthorized otherwise."""
        try:
            with self.db.session() as session:
                return self.inspect(session, token, catalog=False)[1]
        except InvalidToken as exc:
            LOG.debug("rejected a token: %s", exc)
            raise Unauthorized(INVALID_TOKEN) from exc

    def render(self, session: Session, payload: TokenPayload, *, catalog: bool) -> dict[str, Any]:
        """The token body as it stands now; InvalidToken if it no longer stands."""
        if payload.expires_at <= utcnow():
            raise InvalidToken("expired")
        user = session.get(User, payload.user_id)
        if user is None or not user.enabled or not _domain_enabled(session, user.domain_id):
            raise InvalidToken("the user is gone or disabled")
        if revocations.is_revoked(session, payload):
            raise InvalidToken("revoked")
        body: dict[str, Any] = {
            "methods": list(payload.methods),
            "user": {
                "id": user.id,
                "name": user.name,
                "domain": _domain_ref(session, user.domain_id),
                "password_expires_at": None,
            },
            "audit_ids": list(payload.audit_ids),
            "issued_at": isotime(payload.issued_at),
            "expires_at": isotime(payload.expires_at),
        }
        if payload.project_id is None and payload.domain_id is None:
            return body
        if payload.project_id is not None:
            project = session.get(Project, payload.project_id)
            if project is None or not project.enabled:
                raise InvalidToken("the project is gone or disabled")
            if not _domain_enabled(session, project.domain_id):
                raise InvalidToken("the project's domain is disabled")
            body["project"] = {
                "id": project.id,
                "name": project.name,
                "domain": _domain_ref(session, project.domain_id),
            }
            body["is_domain"] = False
            target = project.id
        else:
            domain = session.get(Domain, payload.domain_id)
            if domain is None or not domain.enabled:
                raise InvalidToken("the domain is gone or disabled")
            body["domain"] = {"id": domain.id, "name": domain.name}
            target = domain.id
        roles = assignments.with_implied(session, assignments.role_ids_on(session, user.id, target))
        if payload.app_cred_id is not None:
            credential, role_ids = _application_credential(session, payload)
            allowed = {role.id for role in assignments.with_implied(session, role_ids)}
            roles = [role for role in roles if role.id in allowed]
            body["application_credential"] = {
                "id": credential.id,
                "name": credential.name,
                "restricted": not credential.unrestricted,
            }
        if not roles:
            raise InvalidToken("no roles on the scope")
        body["roles"] = [{"id": role.id, "name": role.name} for role in roles]
        if catalog:
            body["catalog"] = build_catalog(session)
        return body


def _application_credential(
    session: Session, payload: TokenPayload
) -> tuple[ApplicationCredential, list[str]]:
    """The token's application credential and its role ids, if it still stands."""
    credential = session.get(ApplicationCredential, payload.app_cred_id)
    if (
        credential is None
        or credential.user_id != payload.user_id
        or credential.project_id != payload.project_id
    ):
        raise InvalidToken("the application credential is gone")
    if credential.expires_at is not None and credential.expires_at <= utcnow():
        raise InvalidToken("the application credential expired")
    stmt = sa.select(AppCredRole.role_id).where(AppCredRole.app_cred_id == credential.id)
    return credential, list(session.scalars(stmt))


def _domain_enabled(session: Session, domain_id: str) -> bool:
    domain = session.get(Domain, domain_id)
    return domain is not None and domain.enabled


def _domain_ref(session: Session, domain_id: str) -> dict[str, str]:
    domain = session.get(Domain, domain_id)
    return {"id": domain_id, "name": domain.name if domain else ""}
