"""Server groups: affinity, anti-affinity and their soft forms (2.15), with rules (2.64)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from stratus.compute import quotas
from stratus.compute.api.common import (
    PREFIX,
    Backend,
    at_least,
    project_scoped,
    query_bool,
    query_int,
    transaction,
)
from stratus.compute.models import ServerGroup
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Forbidden, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router(prefix=PREFIX + "/os-server-groups")

HARD = ("affinity", "anti-affinity")
SOFT = ("soft-affinity", "soft-anti-affinity")


class NewGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    policies: Annotated[list[str], Field(min_length=1, max_length=1)] | None = None
    policy: str | None = None
    rules: dict[str, Any] | None = None


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    server_group: NewGroup


def view(request: Request, group: ServerGroup) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "members": [m.instance_uuid for m in group.members],
    }
    if at_least(request, "2.64"):
        body["policy"] = group.policy
        body["rules"] = group.rules
    else:
        body["policies"] = [group.policy]
        body["metadata"] = {}
    if at_least(request, "2.13"):
        body["project_id"] = group.project_id
        body["user_id"] = group.user_id
    return body


def find_group(session: Session, ctx: RequestContext, group_id: str) -> ServerGroup:
    group = session.get(ServerGroup, group_id)
    if group is None or (not ctx.is_admin and group.project_id != ctx.project_id):
        raise NotFound(f"Instance group {group_id} could not be found.")
    return group


def _policy_and_rules(request: Request, new: NewGroup) -> tuple[str, dict[str, Any]]:
    allowed = HARD + SOFT if at_least(request, "2.15") else HARD
    if at_least(request, "2.64"):
        if new.policies is not None or new.policy is None:
            raise BadRequest("Invalid input: 'server_group.policy' is required.")
        policy, rules = new.policy, new.rules or {}
    else:
        if new.policy is not None or new.rules is not None or new.policies is None:
            raise BadRequest("Invalid input: 'server_group.policies' is required.")
        policy, rules = new.policies[0], {}
    if policy not in allowed:
        raise BadRequest(f"Invalid input: policy {policy!r} is not one of {', '.join(allowed)}.")
    if rules:
        if policy != "anti-affinity":
            raise BadRequest("Only the anti-affinity policy takes rules.")
        unknown = set(rules) - {"max_server_per_host"}
        value = rules.get("max_server_per_host")
        if unknown or not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadRequest("Invalid rules: only max_server_per_host, a positive integer.")
    return policy, rules


@router.get("", summary="List server groups")
def list_groups(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = request.query_params
    stmt = sa.select(ServerGroup).order_by(ServerGroup.created_at, ServerGroup.id)
    everyone = (
        query_bool("all_projects", query["all_projects"]) if "all_projects" in query else False
    )
    if not (everyone and api.policy.check(ctx, "server_groups:all_projects")):
        stmt = stmt.where(ServerGroup.project_id == project_scoped(ctx))
    if "offset" in query:
        stmt = stmt.offset(query_int("offset", query["offset"]))
    limit = query_int("limit", query["limit"], 1) if "limit" in query else api.max_limit
    stmt = stmt.limit(min(limit, api.max_limit))
    with transaction(request) as session:
        return {"server_groups": [view(request, g) for g in session.scalars(stmt)]}


@router.post("", summary="Create a server group")
def create_group(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: GroupBody = Depends(json_body(GroupBody)),
) -> dict[str, Any]:
    project = project_scoped(ctx)
    api.policy.enforce(ctx, "server_groups:write", {"project_id": project})
    policy, rules = _policy_and_rules(request, body.server_group)
    with api.db.session() as session:
        limit = quotas.limits(session, api.conf, project)["server_groups"]
        if limit != quotas.UNLIMITED and quotas.usage(session, project)["server_groups"] >= limit:
            raise Forbidden("Quota exceeded, too many server groups.")
        group = ServerGroup(
            id=new_id(),
            name=body.server_group.name,
            project_id=project,
            user_id=ctx.user_id,
            policy=policy,
            rules=rules,
        )
        session.add(group)
        session.flush()
        return {"server_group": view(request, group)}


@router.get("/{group_id}", summary="Show a server group")
def show_group(
    group_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    with transaction(request) as session:
        group = find_group(session, ctx, group_id)
        api.policy.enforce(ctx, "server_groups:read", {"project_id": group.project_id})
        return {"server_group": view(request, group)}


@router.delete("/{group_id}", status_code=204, summary="Delete a server group")
def delete_group(
    group_id: str, ctx: RequestContext = Depends(authenticated), api: Backend = Depends(app_backend)
) -> Response:
    with api.db.session() as session:
        group = find_group(session, ctx, group_id)
        api.policy.enforce(ctx, "server_groups:write", {"project_id": group.project_id})
        session.delete(group)
    return Response(status_code=204)
