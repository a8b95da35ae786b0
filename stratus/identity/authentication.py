"""``POST /v3/auth/tokens``: who the caller is (password, token or application
credential) and what the new token is scoped to (project, domain, or nothing)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from stratus.identity import assignments
from stratus.identity.models import (
    DOMAIN_NAME_LENGTH,
    ID_LENGTH,
    PROJECT_NAME_LENGTH,
    USER_NAME_LENGTH,
    ApplicationCredential,
    Domain,
    Project,
    User,
)
from stratus.identity.passwords import MAX_PASSWORD_LENGTH, verify_password
from stratus.identity.provider import Grant, TokenProvider
from stratus.identity.tokens import InvalidToken
from stratus.runtime.api.errors import BadRequest, Forbidden, Unauthorized
from stratus.runtime.db import utcnow

BAD_CREDENTIALS = "Invalid credentials: wrong user, domain, password or secret, or a disabled user."
NO_ACCESS = "The user has no role on the requested {kind}, or it does not exist or is disabled."


_Body = TypeVar("_Body", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Named(_Strict):
    """An object given by id, or by name (the subclass says whether that needs a domain)."""

    id: str | None = Field(default=None, min_length=1, max_length=ID_LENGTH)

    @model_validator(mode="after")
    def _id_or_name(self) -> _Named:
        if self.id is None and getattr(self, "name", None) is None:
            raise ValueError("needs an id or a name")
        return self


class DomainRef(_Named):
    name: str | None = Field(default=None, min_length=1, max_length=DOMAIN_NAME_LENGTH)


class UserRef(_Named):
    name: str | None = Field(default=None, min_length=1, max_length=USER_NAME_LENGTH)
    domain: DomainRef | None = None


class PasswordUser(UserRef):
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class PasswordMethod(_Strict):
    user: PasswordUser


class TokenMethod(_Strict):
    id: str = Field(min_length=1)


class ApplicationCredentialMethod(_Named):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    user: UserRef | None = None
    secret: str = Field(max_length=MAX_PASSWORD_LENGTH)


class Identity(_Strict):
    methods: list[str] = Field(min_length=1)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: ApplicationCredentialMethod | None = None


class ProjectRef(_Named):
    name: str | None = Field(default=None, min_length=1, max_length=PROJECT_NAME_LENGTH)
    domain: DomainRef | None = None


class Scope(_Strict):
    project: ProjectRef | None = None
    domain: DomainRef | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Scope:
        if (self.project is None) == (self.domain is None):
            raise ValueError("scope needs exactly one of project or domain")
        return self


class Auth(_Strict):
    identity: Identity
    scope: Scope | Literal["unscoped"] | None = None


class AuthRequest(_Strict):
    auth: Auth


def authenticate(
    session: Session, auth: Auth, provider: TokenProvider, cost: int
) -> tuple[str, dict[str, Any]]:
    """Check the credentials and the scope; the new token's id and body."""
    methods = list(dict.fromkeys(auth.identity.methods))
    if len(methods) != 1:
        raise BadRequest("Authenticate with exactly one method per request.")
    method = methods[0]
    if method == "password":
        grant = _password(session, _method_body(auth.identity.password, method), auth, cost)
    elif method == "token":
        grant = _token(session, _method_body(auth.identity.token, method), auth, provider)
    elif method == "application_credential":
        body = _method_body(auth.identity.application_credential, method)
        grant = _application_credential(session, body, auth, cost)
    else:
        raise Unauthorized(f"Authentication method {method!r} is not supported.")
    try:
        return provider.issue(session, grant)
    except InvalidToken as exc:
        raise Unauthorized(NO_ACCESS.format(kind="scope")) from exc


def _method_body(body: _Body | None, method: str) -> _Body:
    if body is None:
        raise BadRequest(f"'auth.identity.{method}' is required by the {method} method.")
    return body


def _password(session: Session, body: PasswordMethod, auth: Auth, cost: int) -> Grant:
    user = _find_user(session, body.user)
    stored = user.password_hash if user is not None else None
    if not verify_password(body.user.password, stored, cost) or not _active(session, user):
        raise Unauthorized(BAD_CREDENTIALS)
    assert user is not None  # _active said so
    return _scoped(session, user, auth.scope, ("password",))


def _token(session: Session, body: TokenMethod, auth: Auth, provider: TokenProvider) -> Grant:
    try:
        payload, _ = provider.inspect(session, body.id, catalog=False)
    except InvalidToken as exc:
        raise Unauthorized("The token to rescope is invalid, expired or revoked.") from exc
    if payload.app_cred_id is not None:
        raise Forbidden("A token from an application credential cannot be rescoped.")
    user = session.get(User, payload.user_id)
    assert user is not None  # the token is valid, so its user exists
    grant = _scoped(session, user, auth.scope, tuple({"token", *payload.methods}))
    return replace(grant, expires_at=payload.expires_at, parent_audit_id=payload.audit_ids[0])


def _application_credential(
    session: Session, body: ApplicationCredentialMethod, auth: Auth, cost: int
) -> Grant:
    credential = _find_application_credential(session, body)
    stored = credential.secret_hash if credential is not None else None
    if not verify_password(body.secret, stored, cost) or credential is None:
        raise Unauthorized(BAD_CREDENTIALS)
    if credential.expires_at is not None and credential.expires_at <= utcnow():
        raise Unauthorized("The application credential has expired.")
    if not _active(session, session.get(User, credential.user_id)):
        raise Unauthorized(BAD_CREDENTIALS)
    if isinstance(auth.scope, Scope) and (
        auth.scope.project is None
        or getattr(_find_project(session, auth.scope.project), "id", None) != credential.project_id
    ):
        raise Unauthorized("An application credential is bound to its own project's scope.")
    return Grant(
        user_id=credential.user_id,
        methods=("application_credential",),
        project_id=credential.project_id,
        app_cred_id=credential.id,
        expires_at=credential.expires_at,
    )


def _scoped(
    session: Session, user: User, scope: Scope | str | None, methods: tuple[str, ...]
) -> Grant:
    if scope is None:
        project = session.get(Project, user.default_project_id or "")
        if project is not None and _usable(session, user, project.id, project.enabled):
            return Grant(user.id, methods, project_id=project.id)
        return Grant(user.id, methods)
    if not isinstance(scope, Scope):  # "unscoped"
        return Grant(user.id, methods)
    if scope.project is not None:
        project = _find_project(session, scope.project)
        if project is None or not _usable(session, user, project.id, project.enabled):
            raise Unauthorized(NO_ACCESS.format(kind="project"))
        if not _domain_enabled(session, project.domain_id):
            raise Unauthorized(NO_ACCESS.format(kind="project"))
        return Grant(user.id, methods, project_id=project.id)
    assert scope.domain is not None
    domain = _find_domain(session, scope.domain)
    if domain is None or not _usable(session, user, domain.id, domain.enabled):
        raise Unauthorized(NO_ACCESS.format(kind="domain"))
    return Grant(user.id, methods, domain_id=domain.id)


def _usable(session: Session, user: User, target_id: str, enabled: bool) -> bool:
    return enabled and bool(assignments.role_ids_on(session, user.id, target_id))


def _active(session: Session, user: User | None) -> bool:
    return user is not None and user.enabled and _domain_enabled(session, user.domain_id)


def _domain_enabled(session: Session, domain_id: str) -> bool:
    domain = session.get(Domain, domain_id)
    return domain is not None and domain.enabled


def _find_domain(session: Session, ref: DomainRef) -> Domain | None:
    if ref.id is not None:
        return session.get(Domain, ref.id)
    return session.scalar(sa.select(Domain).where(Domain.name == ref.name))


def _domain_of(session: Session, ref: UserRef | ProjectRef, what: str) -> Domain | None:
    if ref.domain is None:
        raise BadRequest(f"A {what} given by name needs its domain (by id or name).")
    return _find_domain(session, ref.domain)


def _find_user(session: Session, ref: UserRef) -> User | None:
    if ref.id is not None:
        return session.get(User, ref.id)
    domain = _domain_of(session, ref, "user")
    if domain is None:
        return None
    stmt = sa.select(User).where(User.domain_id == domain.id, User.name == ref.name)
    return session.scalar(stmt)


def _find_project(session: Session, ref: ProjectRef) -> Project | None:
    if ref.id is not None:
        return session.get(Project, ref.id)
    domain = _domain_of(session, ref, "project")
    if domain is None:
        return None
    stmt = sa.select(Project).where(Project.domain_id == domain.id, Project.name == ref.name)
    return session.scalar(stmt)


def _find_application_credential(
    session: Session, ref: ApplicationCredentialMethod
) -> ApplicationCredential | None:
    if ref.id is not None:
        return session.get(ApplicationCredential, ref.id)
    if ref.user is None:
        raise BadRequest("An application credential given by name needs its user.")
    user = _find_user(session, ref.user)
    if user is None:
        return None
    stmt = sa.select(ApplicationCredential).where(
        ApplicationCredential.user_id == user.id, ApplicationCredential.name == ref.name
    )
    return session.scalar(stmt)
