"""``/v3/users``, a user's password, projects and groups."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from stratus.identity import assignments, revocations
from stratus.identity.api import views
from stratus.identity.api.common import (
    Body,
    Closed,
    IdRef,
    Patch,
    apply,
    collection,
    fetch,
    listing,
    name_type,
    query_filters,
    save,
    service,
    transaction,
)
from stratus.identity.api.policy import allowed, enforce_visible
from stratus.identity.models import (
    PROJECT,
    USER_NAME_LENGTH,
    Domain,
    Group,
    Membership,
    Project,
    User,
)
from stratus.identity.passwords import MAX_PASSWORD_LENGTH, hash_password, verify_password
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound, Unauthorized
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v3/users", tags=["users"])
UserName = name_type(USER_NAME_LENGTH)
Password = Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH)]


class UserCreate(Body):
    name: UserName
    domain_id: IdRef | None = None
    default_project_id: IdRef | None = None
    enabled: bool = True
    password: Password | None = None
    options: dict[str, Any] = {}


class UserUpdate(Patch):
    not_null = ("name", "enabled")

    name: UserName | None = None
    default_project_id: IdRef | None = None
    enabled: bool | None = None
    password: Password | None = None
    options: dict[str, Any] = {}


class CreateUserRequest(Closed):
    user: UserCreate


class UpdateUserRequest(Closed):
    user: UserUpdate


class PasswordChange(Closed):
    password: Password
    original_password: Password


class ChangePasswordRequest(Closed):
    user: PasswordChange


def not_found(user_id: str) -> NotFound:
    return NotFound(f"Could not find user: {user_id}.")


def visible_user(session: Session, ctx: RequestContext, action: str, user_id: str) -> User:
    """The user, if the caller may act on it; a 404 for anyone else's."""
    enforce_visible(ctx, action, not_found(user_id), user_id=user_id)
    return fetch(session, User, user_id, "user")


def remove_user(session: Session, user: User, lifetime: int) -> None:
    """Delete a user with its grants, memberships and credentials; revoke its tokens."""
    assignments.forget(session, user.id)
    revocations.revoke_user(session, user.id, lifetime)
    session.delete(user)


def _hash(password: str | None, cost: int) -> str | None:
    return hash_password(password, cost) if password is not None else None


def _no_options(options: dict[str, Any]) -> None:
    if options:
        raise BadRequest("User options are not supported.")


def _check_default_project(session: Session, project_id: str | None) -> None:
    if project_id is not None and session.get(Project, project_id) is None:
        raise BadRequest(f"default_project_id: could not find project {project_id}.")


@router.post("", status_code=201, summary="Create a user")
def create_user(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_user")),
    body: CreateUserRequest = Depends(json_body(CreateUserRequest)),
) -> dict[str, Any]:
    data = body.user
    _no_options(data.options)
    ident = service(request)
    with transaction(request) as session:
        domain_id = data.domain_id or ctx.project_domain_id or ctx.domain_id or "default"
        if session.get(Domain, domain_id) is None:
            raise BadRequest(f"Could not find domain: {domain_id}.")
        _check_default_project(session, data.default_project_id)
        user = User(
            name=data.name,
            domain_id=domain_id,
            enabled=data.enabled,
            default_project_id=data.default_project_id,
            password_hash=_hash(data.password, ident.password_cost),
            extra=data.extras(),
        )
        save(session, user, f"user {data.name!r} in domain {domain_id}")
        return {"user": views.user(request, user)}


@router.get("", summary="List users")
def list_users(
    request: Request, ctx: RequestContext = Depends(allowed("list_users"))
) -> dict[str, Any]:
    filters = query_filters(request, User, ("name", "domain_id", "enabled"))
    with transaction(request) as session:
        rows, marker = listing(request, session, User, filters)
        return collection(request, "users", [views.user(request, u) for u in rows], marker)


@router.get("/{user_id}", summary="Show a user")
def get_user(
    request: Request, user_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"user": views.user(request, visible_user(session, ctx, "get_user", user_id))}


@router.patch("/{user_id}", summary="Update a user")
def update_user(
    request: Request,
    user_id: str,
    ctx: RequestContext = Depends(allowed("update_user")),
    body: UpdateUserRequest = Depends(json_body(UpdateUserRequest)),
) -> dict[str, Any]:
    data = body.user
    _no_options(data.options)
    if "domain_id" in data.extras():
        raise BadRequest("domain_id of a user cannot be changed.")
    ident = service(request)
    with transaction(request) as session:
        user = fetch(session, User, user_id, "user")
        was_enabled = user.enabled
        _check_default_project(session, data.default_project_id)
        apply(user, data, ("name", "enabled", "default_project_id"))
        user.extra = data.merge_into(user.extra)
        if "password" in data.model_fields_set:
            user.password_hash = _hash(data.password, ident.password_cost)
        save(session, user, f"user {user.name!r} in domain {user.domain_id}")
        if "password" in data.model_fields_set or (was_enabled and not user.enabled):
            revocations.revoke_user(session, user.id, ident.token_lifetime)
        return {"user": views.user(request, user)}


@router.delete("/{user_id}", status_code=204, summary="Delete a user")
def delete_user(
    request: Request,
    user_id: str,
    ctx: RequestContext = Depends(allowed("delete_user")),
) -> Response:
    with transaction(request) as session:
        remove_user(session, fetch(session, User, user_id, "user"), service(request).token_lifetime)
    return Response(status_code=204)


@router.post("/{user_id}/password", status_code=204, summary="Change a user's own password")
def change_password(
    request: Request,
    user_id: str,
    ctx: RequestContext = Depends(authenticated),
    body: ChangePasswordRequest = Depends(json_body(ChangePasswordRequest)),
) -> Response:
    ident = service(request)
    with transaction(request) as session:
        user = visible_user(session, ctx, "change_password", user_id)
        if not verify_password(
            body.user.original_password, user.password_hash, ident.password_cost
        ):
            raise Unauthorized("The original password is wrong.")
        user.password_hash = hash_password(body.user.password, ident.password_cost)
        revocations.revoke_user(session, user.id, ident.token_lifetime)
    return Response(status_code=204)


@router.get("/{user_id}/projects", summary="List the projects a user has roles on")
def list_user_projects(
    request: Request, user_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        user = visible_user(session, ctx, "list_user_projects", user_id)
        ids = assignments.target_ids(session, user.id, PROJECT)
        filters = [Project.id.in_(ids), *query_filters(request, Project, ("name", "enabled"))]
        rows, marker = listing(request, session, Project, filters)
        return collection(request, "projects", [views.project(request, p) for p in rows], marker)


@router.get("/{user_id}/groups", summary="List the groups a user is in")
def list_user_groups(
    request: Request, user_id: str, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        user = visible_user(session, ctx, "list_user_groups", user_id)
        member_of = sa.select(Membership.group_id).where(Membership.user_id == user.id)
        rows, marker = listing(request, session, Group, [Group.id.in_(member_of)])
        return collection(request, "groups", [views.group(request, g) for g in rows], marker)
