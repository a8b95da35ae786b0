"""``/v3/groups`` and group membership."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from stratus.identity import assignments
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
from stratus.identity.models import GROUP_NAME_LENGTH, Domain, Group, Membership, User
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v3/groups", tags=["groups"])
GroupName = name_type(GROUP_NAME_LENGTH)


class GroupCreate(Body):
    name: GroupName
    domain_id: IdRef | None = None
    description: Description = None


class GroupUpdate(Patch):
    not_null = ("name",)

    name: GroupName | None = None
    description: Description = None


class CreateGroupRequest(Closed):
    group: GroupCreate


class UpdateGroupRequest(Closed):
    group: GroupUpdate


def remove_group(session: Session, group: Group) -> None:
    """Delete a group with its grants (its members' tokens lose those roles at once)."""
    assignments.forget(session, group.id)
    session.delete(group)


@router.post("", status_code=201, summary="Create a group")
def create_group(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_group")),
    body: CreateGroupRequest = Depends(json_body(CreateGroupRequest)),
) -> dict[str, Any]:
    data = body.group
    with transaction(request) as session:
        domain_id = data.domain_id or ctx.project_domain_id or ctx.domain_id or "default"
        if session.get(Domain, domain_id) is None:
            raise BadRequest(f"Could not find domain: {domain_id}.")
        group = Group(
            name=data.name, domain_id=domain_id, description=data.description, extra=data.extras()
        )
        save(session, group, f"group {data.name!r} in domain {domain_id}")
        return {"group": views.group(request, group)}


@router.get("", summary="List groups")
def list_groups(
    request: Request, ctx: RequestContext = Depends(allowed("list_groups"))
) -> dict[str, Any]:
    filters = query_filters(request, Group, ("name", "domain_id"))
    with transaction(request) as session:
        rows, marker = listing(request, session, Group, filters)
        return collection(request, "groups", [views.group(request, g) for g in rows], marker)


@router.get("/{group_id}", summary="Show a group")
def get_group(
    request: Request,
    group_id: str,
    ctx: RequestContext = Depends(allowed("get_group")),
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"group": views.group(request, fetch(session, Group, group_id, "group"))}


@router.patch("/{group_id}", summary="Update a group")
def update_group(
    request: Request,
    group_id: str,
    ctx: RequestContext = Depends(allowed("update_group")),
    body: UpdateGroupRequest = Depends(json_body(UpdateGroupRequest)),
) -> dict[str, Any]:
    data = body.group
    if "domain_id" in data.extras():
        raise BadRequest("domain_id of a group cannot be changed.")
    with transaction(request) as session:
        group = fetch(session, Group, group_id, "group")
        apply(group, data, ("name", "description"))
        group.extra = data.merge_into(group.extra)
        save(session, group, f"group {group.name!r} in domain {group.domain_id}")
        return {"group": views.group(request, group)}


@router.delete("/{group_id}", status_code=204, summary="Delete a group")
def delete_group(
    request: Request,
    group_id: str,
    ctx: RequestContext = Depends(allowed("delete_group")),
) -> Response:
    with transaction(request) as session:
        remove_group(session, fetch(session, Group, group_id, "group"))
    return Response(status_code=204)


@router.get("/{group_id}/users", summary="List a group's members")
def list_group_users(
    request: Request,
    group_id: str,
    ctx: RequestContext = Depends(allowed("list_users_in_group")),
) -> dict[str, Any]:
    with transaction(request) as session:
        fetch(session, Group, group_id, "group")
        members = sa.select(Membership.user_id).where(Membership.group_id == group_id)
        filters = [User.id.in_(members), *query_filters(request, User, ("name", "enabled"))]
        rows, marker = listing(request, session, User, filters)
        return collection(request, "users", [views.user(request, u) for u in rows], marker)


def _membership(session: Session, group_id: str, user_id: str) -> Membership | None:
    fetch(session, Group, group_id, "group")
    fetch(session, User, user_id, "user")
    return session.get(Membership, (group_id, user_id))


@router.put("/{group_id}/users/{user_id}", status_code=204, summary="Add a user to a group")
def add_user_to_group(
    request: Request,
    group_id: str,
    user_id: str,
    ctx: RequestContext = Depends(allowed("add_user_to_group")),
) -> Response:
    row = Membership(group_id=group_id, user_id=user_id)
    insert_once(request, row, lambda session: _membership(session, group_id, user_id) is not None)
    return Response(status_code=204)


@router.head("/{group_id}/users/{user_id}", status_code=204, summary="Check membership")
def check_user_in_group(
    request: Request,
    group_id: str,
    user_id: str,
    ctx: RequestContext = Depends(allowed("check_user_in_group")),
) -> Response:
    with transaction(request) as session:
        if _membership(session, group_id, user_id) is None:
            raise NotFound(f"User {user_id} is not a member of group {group_id}.")
    return Response(status_code=204)


@router.delete("/{group_id}/users/{user_id}", status_code=204, summary="Remove from a group")
def remove_user_from_group(
    request: Request,
    group_id: str,
    user_id: str,
    ctx: RequestContext = Depends(allowed("remove_user_from_group")),
) -> Response:
    with transaction(request) as session:
        membership = _membership(session, group_id, user_id)
        if membership is None:
            raise NotFound(f"User {user_id} is not a member of group {group_id}.")
        session.delete(membership)
    return Response(status_code=204)
