"""``/v3/roles``, and granting them: ``/v3/{projects,domains}/{id}/{users,groups}/{id}/roles``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from stratus.identity.api import views
from stratus.identity.api.common import (
    Body,
    Closed,
    Description,
    IdRef,
    Patch,
    apply,
    collection,
    fetch,
    insert_once,
    listing,
    name_type,
    query_filters,
    save,
    transaction,
)
from stratus.identity.api.policy import allowed
from stratus.identity.models import (
    DOMAIN,
    GROUP,
    PROJECT,
    ROLE_NAME_LENGTH,
    USER,
    Assignment,
    Domain,
    Group,
    Project,
    Role,
    User,
)
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(tags=["roles"])
RoleName = name_type(ROLE_NAME_LENGTH)


class RoleCreate(Body):
    name: RoleName
    domain_id: IdRef | None = None
    description: Description = None
    options: dict[str, Any] = {}


class RoleUpdate(Patch):
    not_null = ("name",)

    name: RoleName | None = None
    description: Description = None
    options: dict[str, Any] = {}


class CreateRoleRequest(Closed):
    role: RoleCreate


class UpdateRoleRequest(Closed):
    role: RoleUpdate


def _plain_role(domain_id: str | None, options: dict[str, Any]) -> None:
    if domain_id is not None:
        raise BadRequest("Domain-specific roles are not supported.")
    if options:
        raise BadRequest("Role options are not supported.")


@router.post("/v3/roles", status_code=201, summary="Create a role")
def create_role(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_role")),
    body: CreateRoleRequest = Depends(json_body(CreateRoleRequest)),
) -> dict[str, Any]:
    data = body.role
    _plain_role(data.domain_id, data.options)
    with transaction(request) as session:
        role = Role(name=data.name, description=data.description, extra=data.extras())
        save(session, role, f"role {data.name!r}")
        return {"role": views.role(request, role)}


@router.get("/v3/roles", summary="List roles")
def list_roles(
    request: Request, ctx: RequestContext = Depends(allowed("list_roles"))
) -> dict[str, Any]:
    filters = query_filters(request, Role, ("name",))
    if request.query_params.get("domain_id"):
        filters.append(sa.false())  # no domain-specific roles
    with transaction(request) as session:
        rows, marker = listing(request, session, Role, filters)
        return collection(request, "roles", [views.role(request, r) for r in rows], marker)


@router.get("/v3/roles/{role_id}", summary="Show a role")
def get_role(
    request: Request,
    role_id: str,
    ctx: RequestContext = Depends(allowed("get_role")),
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"role": views.role(request, fetch(session, Role, role_id, "role"))}


@router.patch("/v3/roles/{role_id}", summary="Update a role")
def update_role(
    request: Request,
    role_id: str,
    ctx: RequestContext = Depends(allowed("update_role")),
    body: UpdateRoleRequest = Depends(json_body(UpdateRoleRequest)),
) -> dict[str, Any]:
    data = body.role
    _plain_role(data.extras().get("domain_id"), data.options)
    with transaction(request) as session:
        role = fetch(session, Role, role_id, "role")
        apply(role, data, ("name", "description"))
        role.extra = data.merge_into(role.extra)
        save(session, role, f"role {role.name!r}")
        return {"role": views.role(request, role)}


@router.delete("/v3/roles/{role_id}", status_code=204, summary="Delete a role")
def delete_role(
    request: Request,
    role_id: str,
    ctx: RequestContext = Depends(allowed("delete_role")),
) -> Response:
    """Its grants go with it (the database cascades them)."""
    with transaction(request) as session:
        session.delete(fetch(session, Role, role_id, "role"))
    return Response(status_code=204)


# Grants: the same five operations on each of the four (target, actor) combinations.
_TARGETS = {"projects": (PROJECT, Project, "project"), "domains": (DOMAIN, Domain, "domain")}
_ACTORS = {"users": (USER, User, "user"), "groups": (GROUP, Group, "group")}


def grant_path(target_type: str, target_id: str, actor_type: str, actor_id: str) -> str:
    """``projects/{id}/users/{id}/roles``: where a grant lives, under /v3."""
    return f"{target_type}s/{target_id}/{actor_type}s/{actor_id}/roles"


def _add_grant_routes(targets: str, actors: str) -> None:
    target_type, target_model, target_kind = _TARGETS[targets]
    actor_type, actor_model, actor_kind = _ACTORS[actors]
    base = f"/v3/{targets}/{{target_id}}/{actors}/{{actor_id}}/roles"
    scope = f"a {actor_kind} on a {target_kind}"

    def lookup(session: Session, target_id: str, actor_id: str) -> None:
        fetch(session, target_model, target_id, target_kind)
        fetch(session, actor_model, actor_id, actor_kind)

    def key(target_id: str, actor_id: str, role_id: str) -> tuple[str, ...]:
        return (actor_type, actor_id, target_type, target_id, role_id)

    def list_grants(
        request: Request,
        target_id: str,
        actor_id: str,
        ctx: RequestContext = Depends(allowed("list_grants")),
    ) -> dict[str, Any]:
        with transaction(request) as session:
            lookup(session, target_id, actor_id)
            granted = sa.select(Assignment.role_id).where(
                Assignment.actor_type == actor_type,
                Assignment.actor_id == actor_id,
                Assignment.target_type == target_type,
                Assignment.target_id == target_id,
            )
            rows = session.scalars(sa.select(Role).where(Role.id.in_(granted)).order_by(Role.name))
            return collection(request, "roles", [views.role(request, r) for r in rows])

    def grant(
        request: Request,
        target_id: str,
        actor_id: str,
        role_id: str,
        ctx: RequestContext = Depends(allowed("create_grant")),
    ) -> Response:
        with transaction(request) as session:
            lookup(session, target_id, actor_id)
            fetch(session, Role, role_id, "role")
        row = Assignment(
            actor_type=actor_type,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            role_id=role_id,
        )
        identity = key(target_id, actor_id, role_id)
        insert_once(request, row, lambda session: session.get(Assignment, identity) is not None)
        return Response(status_code=204)

    def check(
        request: Request,
        target_id: str,
        actor_id: str,
        role_id: str,
        ctx: RequestContext = Depends(allowed("check_grant")),
    ) -> Response:
        with transaction(request) as session:
            _existing(session, target_id, actor_id, role_id)
        return Response(status_code=204)

    def revoke(
        request: Request,
        target_id: str,
        actor_id: str,
        role_id: str,
        ctx: RequestContext = Depends(allowed("revoke_grant")),
    ) -> Response:
        with transaction(request) as session:
            session.delete(_existing(session, target_id, actor_id, role_id))
        return Response(status_code=204)

    def _existing(session: Session, target_id: str, actor_id: str, role_id: str) -> Assignment:
        lookup(session, target_id, actor_id)
        fetch(session, Role, role_id, "role")
        assignment = session.get(Assignment, key(target_id, actor_id, role_id))
        if assignment is None:
            raise NotFound(
                f"Could not find role assignment: role {role_id} is not granted to "
                f"{actor_kind} {actor_id} on {target_kind} {target_id}."
            )
        return assignment

    router.add_api_route(base, list_grants, methods=["GET"], summary=f"List roles of {scope}")
    member = base + "/{role_id}"
    router.add_api_route(
        member, grant, methods=["PUT"], status_code=204, summary=f"Grant a role to {scope}"
    )
    for method in ("GET", "HEAD"):
        router.add_api_route(
            member, check, methods=[method], status_code=204, summary=f"Check a role of {scope}"
        )
    router.add_api_route(
        member, revoke, methods=["DELETE"], status_code=204, summary=f"Revoke a role of {scope}"
    )


for _targets in _TARGETS:
    for _actors in _ACTORS:
        _add_grant_routes(_targets, _actors)
