"""Issuing and validating tokens against the database: expiry, revocation, and roles
and names computed at validation time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from stratus.identity import revocations
from stratus.identity.models import (
    AppCredRole,
    ApplicationCredential,
    Assignment,
    Domain,
    Project,
    RevocationEvent,
    User,
)
from stratus.identity.provider import Grant
from stratus.identity.tokens import InvalidToken
from stratus.runtime.api.errors import Unauthorized
from stratus.runtime.db import utcnow


def issue(directory, **grant: object) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "user_id": directory.user.id,
        "methods": ("password",),
        "project_id": directory.project.id,
    }
    fields.update(grant)
    with directory.db.session() as session:
        return directory.provider.issue(session, Grant(**fields))  # type: ignore[arg-type]


def validate(directory, token: str) -> dict:  # type: ignore[no-untyped-def]
    return directory.provider.validate(token)


def test_issue_and_validate(directory) -> None:
    token, body = issue(directory)
    validated = validate(directory, token)
    assert "catalog" in body and "catalog" not in validated
    body.pop("catalog")
    assert validated == body
    assert body["user"]["name"] == "alice" and body["project"]["name"] == "p"
    assert [r["name"] for r in body["roles"]] == ["member", "reader"]  # reader is implied


def test_unscoped_and_domain_scoped(directory) -> None:
    token, body = issue(directory, project_id=None)
    assert "roles" not in validate(directory, token) and "project" not in body
    with directory.db.session() as session:
        domain = session.get(Domain, "default")
    directory.grant("admin", actor=directory.user, target=domain)
    token, body = issue(directory, project_id=None, domain_id="default")
    assert body["domain"] == {"id": "default", "name": "Default"}
    assert [r["name"] for r in body["roles"]] == ["admin", "member", "reader"]


def test_expired_tokens_are_rejected(directory) -> None:
    token, _ = issue(directory, expires_at=utcnow() + timedelta(seconds=1))
    with directory.db.session() as session:
        payload = directory.provider.codec.decode(token)
        with pytest.raises(InvalidToken, match="expired"):
            directory.provider.render(
                session, replace(payload, expires_at=utcnow() - timedelta(seconds=1)), catalog=False
            )


def test_expiry_is_capped_by_the_grant(directory) -> None:
    soon = utcnow() + timedelta(minutes=5)
    _, body = issue(directory, expires_at=soon)
    assert body["expires_at"] <= soon.strftime("%Y-%m-%dT%H:%M:%S.999999Z")


def test_revocation_by_audit_id(directory) -> None:
    token, body = issue(directory)
    other, _ = issue(directory)
    with directory.db.session() as session:
        revocations.revoke_token(session, body["audit_ids"][0], lifetime=3600)
    with pytest.raises(Unauthorized):
        validate(directory, token)
    assert validate(directory, other)


@pytest.mark.parametrize("scope", ["user", "project"])
def test_revocation_by_user_or_project_spares_later_tokens(directory, scope: str) -> None:
    before, _ = issue(directory)
    with directory.db.session() as session:
        if scope == "user":
            revocations.revoke_user(session, directory.user.id, lifetime=3600)
        else:
            revocations.revoke_project(session, directory.project.id, lifetime=3600)
    after, _ = issue(directory)
    with pytest.raises(Unauthorized):
        validate(directory, before)
    assert validate(directory, after)


def test_old_revocation_events_are_pruned(directory) -> None:
    with directory.db.session() as session:
        revocations.revoke_user(session, "someone", lifetime=3600)
    with directory.db.session() as session:
        session.execute(
            sa.update(RevocationEvent).values(issued_before=utcnow() - timedelta(hours=3))
        )
    with directory.db.session() as session:
        revocations.revoke_user(session, "someone-else", lifetime=3600)
        users = session.scalars(sa.select(RevocationEvent.user_id))
        assert list(users) == ["someone-else"]


@pytest.mark.parametrize(
    "change",
    [
        lambda s, d: setattr(s.get(User, d.user.id), "enabled", False),
        lambda s, d: s.delete(s.get(User, d.user.id)),
        lambda s, d: setattr(s.get(Project, d.project.id), "enabled", False),
        lambda s, d: s.delete(s.get(Project, d.project.id)),
        lambda s, d: setattr(s.get(Domain, "default"), "enabled", False),
    ],
    ids=["user-disabled", "user-deleted", "project-disabled", "project-deleted", "domain-disabled"],
)
def test_tokens_die_with_their_user_project_or_domain(directory, change) -> None:  # type: ignore[no-untyped-def]
    token, _ = issue(directory)
    with directory.db.session() as session:
        change(session, directory)
    with pytest.raises(Unauthorized):
        validate(directory, token)


def test_roles_follow_grants_and_group_membership(directory) -> None:
    token, _ = issue(directory)
    directory.grant("admin", actor=directory.group, target=directory.project)
    assert [r["name"] for r in validate(directory, token)["roles"]] == ["admin", "member", "reader"]


def test_a_scope_without_roles_is_invalid(directory) -> None:
    directory.grant("other", actor=directory.user, target=directory.other_project)
    token, _ = issue(directory, project_id=directory.other_project.id)
    assert [r["name"] for r in validate(directory, token)["roles"]] == ["other"]
    with directory.db.session() as session:
        session.execute(
            sa.delete(Assignment).where(Assignment.target_id == directory.other_project.id)
        )
    with pytest.raises(Unauthorized):
        validate(directory, token)


def test_application_credential_tokens(directory) -> None:
    with directory.db.session() as session:
        credential = ApplicationCredential(
            name="c", user_id=directory.user.id, project_id=directory.project.id, secret_hash="x"
        )
        session.add(credential)
        session.flush()
        session.add(AppCredRole(app_cred_id=credential.id, role_id=directory.roles["reader"].id))
    token, body = issue(directory, methods=("application_credential",), app_cred_id=credential.id)
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert body["application_credential"] == {"id": credential.id, "name": "c", "restricted": True}
    with directory.db.session() as session:
        session.delete(session.get(ApplicationCredential, credential.id))
    with pytest.raises(Unauthorized):
        validate(directory, token)
