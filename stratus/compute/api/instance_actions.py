"""os-instance-actions: what was done to a server, by whom, and how each step went."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request

from stratus.compute.api.common import (
    PREFIX,
    Backend,
    at_least,
    backend,
    micro,
    next_link,
    parse_time,
    query_int,
    transaction,
)
from stratus.compute.api.server_access import authorize, find_server
from stratus.compute.models import Instance, InstanceAction, InstanceActionEvent
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.api.routing import Router, app_backend

router = Router(prefix=PREFIX + "/servers/{server_id}/os-instance-actions")


def _action(request: Request, action: InstanceAction) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": micro(action.start_time),
        "message": action.message,
    }
    if at_least(request, "2.58"):
        body["updated_at"] = micro(action.updated_at)
    return body


def _event(
    request: Request, event: InstanceActionEvent, instance: Instance, details: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event.event,
        "start_time": micro(event.start_time),
        "finish_time": micro(event.finish_time),
        "result": event.result,
    }
    if details:
        body["traceback"] = event.traceback
    if at_least(request, "2.62"):
        body["hostId"] = (
            hashlib.sha224((instance.project_id + event.host).encode()).hexdigest()
            if event.host
            else ""
        )
        if details:
            body["host"] = event.host or ""
    return body


def _server(request: Request, ctx: RequestContext, session: Any, server_id: str) -> Instance:
    instance = find_server(session, ctx, server_id, deleted=at_least(request, "2.21"))
    authorize(backend(request), ctx, instance, "servers:read")
    return instance


@router.get("", summary="List a server's actions")
def list_actions(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = request.query_params
    paged = at_least(request, "2.58")
    with transaction(request) as session:
        instance = _server(request, ctx, session, server_id)
        stmt = (
            sa.select(InstanceAction)
            .where(InstanceAction.instance_uuid == instance.uuid)
            .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())
        )
        if paged and query.get("changes-since"):
            since = parse_time("changes-since", query["changes-since"])
            stmt = stmt.where(InstanceAction.updated_at >= since)
        if at_least(request, "2.66") and query.get("changes-before"):
            before = parse_time("changes-before", query["changes-before"])
            stmt = stmt.where(InstanceAction.updated_at <= before)
        actions = list(session.scalars(stmt))
        marker = query.get("marker") if paged else None
        if marker:
            index = next((i for i, a in enumerate(actions) if a.request_id == marker), None)
            if index is None:
                raise BadRequest(f"Marker {marker} could not be found.")
            actions = actions[index + 1 :]
        limit = query_int("limit", query["limit"]) if paged and query.get("limit") else None
        body: dict[str, Any] = {"instanceActions": []}
        if limit is not None and len(actions) > limit:
            actions = actions[:limit]
            if actions:
                body["links"] = next_link(
                    request, f"servers/{server_id}/os-instance-actions", actions[-1].request_id
                )
        body["instanceActions"] = [_action(request, a) for a in actions]
        return body


@router.get("/{request_id}", summary="Show one action of a server, with its events")
def show_action(
    server_id: str,
    request_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    with transaction(request) as session:
        instance = _server(request, ctx, session, server_id)
        action = session.scalar(
            sa.select(InstanceAction).where(
                InstanceAction.instance_uuid == instance.uuid,
                InstanceAction.request_id == request_id,
            )
        )
        if action is None:
            raise NotFound(f"Action for request_id {request_id} on instance {server_id} not found")
        details = api.policy.check(ctx, "instance_actions:events_details")
        body = _action(request, action)
        if details or at_least(request, "2.51"):
            body["events"] = [_event(request, e, instance, details) for e in action.events]
        return {"instanceAction": body}
