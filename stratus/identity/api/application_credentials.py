"""``/v3/users/{user_id}/application_credentials``: secrets a user hands to an
application, bound to one project and a subset of the user's roles there."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import Field, model_validator
from sqlalchemy.orm import Session

from stratus.identity import assignments
from stratus.identity.api import views
from stratus.identity.api.common import (
    Closed,
    Description,
    IdRef,
    collection,
    fetch,
    listing,
    name_type,
    query_filters,
    save,
    service,
    transaction,
)
from stratus.identity.api.policy import enforce_visible
from stratus.identity.models import (
    APP_CRED_NAME_LENGTH,
    AppCredRole,
    ApplicationCredential,
    Role,
    User,
)
from stratus.identity.passwords import MAX_PASSWORD_LENGTH, hash_password
from stratus.identity.times import parse_time
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Forbidden, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import utcnow
from stratus.runtime.generated_secrets import typeable_secret

router = Router(prefix="/v3/users/{user_id}/application_credentials", tags=["users"])
CredentialName = name_type(APP_CRED_NAME_LENGTH)


class RoleRef(Closed):
    id: IdRef | None = None
    name: str | None = Field(default=None, min_length=1, max_length=255)
    domain_id: IdRef | None = None

    @model_validator(mode="after")
    def _id_or_name(self) -> RoleRef:
        if self.id is None and self.name is None:
            raise ValueError("a role needs an id or a name")
        return self


class ApplicationCredentialCreate(Closed):
    name: CredentialName
    description: Description = None
    secret: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)] | None = None
    expires_at: str | None = None
    roles: list[RoleRef] | None = None
    unrestricted: bool = False
    access_rules: list[dict[str, Any]] | None = None


class CreateApplicationCredentialRequest(Closed):
    application_credential: ApplicationCredentialCreate


def _not_found(credential_id: str) -> NotFound:
    return NotFound(f"Could not find application credential: {credential_id}.")


def _user(session: Session, ctx: RequestContext, action: str, user_id: str) -> User:
    enforce_visible(ctx, action, NotFound(f"Could not find user: {user_id}."), user_id=user_id)
    return fetch(session, User, user_id, "user")


def _roles_of(session: Session, credential_id: str) -> list[Role]:
    held = sa.select(AppCredRole.role_id).where(AppCredRole.app_cred_id == credential_id)
    return list(session.scalars(sa.select(Role).where(Role.id.in_(held)).order_by(Role.name)))


def _from_restricted_credential(session: Session, ctx: RequestContext) -> bool:
    """Whether the caller authenticated with a restricted application credential, which
    may not create or delete application credentials."""
    if ctx.application_credential_id is None:
        return False
    credential = session.get(ApplicationCredential, ctx.application_credential_id)
    return credential is None or not credential.unrestricted


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = parse_time(text)
    except ValueError as exc:
        raise BadRequest(f"expires_at {text!r} is not an ISO 8601 time.") from exc
    if moment <= utcnow():
        raise BadRequest("expires_at must be in the future.")
    return moment


def _chosen_roles(
    session: Session, refs: list[RoleRef] | None, user_id: str, project_id: str
) -> list[Role]:
    """The requested roles (none asked: every role of the user on the project): each must
    be one the user holds there."""
    held = assignments.with_implied(session, assignments.role_ids_on(session, user_id, project_id))
    if not refs:
        return held
    by_id, by_name = {r.id: r for r in held}, {r.name: r for r in held}
    chosen: dict[str, Role] = {}
    for ref in refs:
        role = by_id.get(ref.id or "") if ref.id else by_name.get(ref.name or "")
        if role is None:
            raise BadRequest(
                f"Role {ref.id or ref.name} is not one of the user's roles on project "
                f"{project_id}; an application credential can only delegate those."
            )
        chosen[role.id] = role
    return sorted(chosen.values(), key=lambda role: role.name)


@router.post("", status_code=201, summary="Create an application credential")
def create_application_credential(
    request: Request,
    user_id: str,
    ctx: RequestContext = Depends(authenticated),
    body: CreateApplicationCredentialRequest = Depends(
        json_body(CreateApplicationCredentialRequest)
    ),
) -> dict[str, Any]:
    data = body.application_credential
    if data.access_rules:
        raise BadRequest("Access rules are not supported.")
    ident = service(request)
    with transaction(request) as session:
        _user(session, ctx, "create_application_credential", user_id)
        if user_id != ctx.user_id:
            raise Forbidden("Application credentials can only be created by their own user.")
        if ctx.project_id is None:
            raise Forbidden("Creating an application credential needs a project-scoped token.")
        if _from_restricted_credential(session, ctx):
            raise Forbidden("A restricted application credential cannot create another.")
        expires_at = _expiry(data.expires_at)
        roles = _chosen_roles(session, data.roles, user_id, ctx.project_id)
        if not roles:
            raise BadRequest(f"The user has no roles on project {ctx.project_id} to delegate.")
        secret = data.secret or typeable_secret(64)
        credential = ApplicationCredential(
            name=data.name,
            user_id=user_id,
            project_id=ctx.project_id,
            secret_hash=hash_password(secret, ident.password_cost),
            description=data.description,
            expires_at=expires_at,
            unrestricted=data.unrestricted,
        )
        save(session, credential, f"application credential {data.name!r} of user {user_id}")
        session.add_all(AppCredRole(app_cred_id=credential.id, role_id=r.id) for r in roles)
        rendered = views.application_credential(request, credential, roles)
    return {"application_credential": {**rendered, "secret": secret}}


@router.get("", summary="List a user's application credentials")
def list_application_credentials(
    request: Request, user_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        _user(session, ctx, "list_application_credentials", user_id)
        filters = [
            ApplicationCredential.user_id == user_id,
            *query_filters(request, ApplicationCredential, ("name",)),
        ]
        rows, marker = listing(request, session, ApplicationCredential, filters)
        items = [views.application_credential(request, c, _roles_of(session, c.id)) for c in rows]
        return collection(request, "application_credentials", items, marker)


def _credential(session: Session, user_id: str, credential_id: str) -> ApplicationCredential:
    credential = session.get(ApplicationCredential, credential_id)
    if credential is None or credential.user_id != user_id:
        raise _not_found(credential_id)
    return credential


@router.get("/{credential_id}", summary="Show an application credential")
def get_application_credential(
    request: Request, user_id: str, credential_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        _user(session, ctx, "get_application_credential", user_id)
        credential = _credential(session, user_id, credential_id)
        roles = _roles_of(session, credential.id)
        return {"application_credential": views.application_credential(request, credential, roles)}


@router.delete("/{credential_id}", status_code=204, summary="Delete an application credential")
def delete_application_credential(
    request: Request, user_id: str, credential_id: str, ctx: RequestContext = Depends(authenticated)
) -> Response:
    """Tokens issued with it stop validating at once."""
    with transaction(request) as session:
        _user(session, ctx, "delete_application_credential", user_id)
        credential = _credential(session, user_id, credential_id)
        if _from_restricted_credential(session, ctx):
            raise Forbidden("A restricted application credential cannot delete one.")
        session.delete(credential)
    return Response(status_code=204)
