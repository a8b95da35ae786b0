"""``/v1/capsules``: create from a template, list, show, delete.

python-zunclient calls ``/v1/capsules/`` (with the slash) to create and list: both
spellings are served, since a POST answered with a redirect is not followed."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from stratus.container import capsules
from stratus.container.api import views
from stratus.container.api.common import base_url, flag, service, version
from stratus.container.models import Capsule, Container
from stratus.container.schemas import CapsuleCreate
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v1/capsules")
Caller = Depends(authenticated)


def _view(
    request: Request, ctx: RequestContext, row: Capsule, members: list[Container]
) -> dict[str, Any]:
    show_host = service(request).policy.check(ctx, "container:host")
    base, at = base_url(request), version(request)
    url = f"{base}/v1/capsules/{row.uuid}"
    view: dict[str, Any] = {
        "uuid": row.uuid,
        "name": row.name,
        "links": [{"href": url, "rel": "self"}, {"href": url, "rel": "bookmark"}],
        "project_id": row.project_id,
        "user_id": row.user_id,
        "status": capsules.status([m.status for m in members]),
        "status_reason": next((m.status_reason for m in members if m.status_reason), None),
        "labels": row.labels,
        "restart_policy": row.restart_policy,
        "cpu": sum(m.cpu for m in members),
        "memory": str(sum(m.memory for m in members)),
        "addresses": members[0].addresses if members else {},
        "containers": [views.container(m, base, at, show_host) for m in members],
        "created_at": views.time(row.created_at),
        "updated_at": views.time(row.updated_at),
    }
    if show_host:
        view["host"] = row.host
    return view


@router.post("", status_code=202)
@router.post("/", status_code=202)
def create(
    request: Request,
    ctx: RequestContext = Caller,
    body: CapsuleCreate = Depends(json_body(CapsuleCreate)),
) -> dict[str, Any]:
    row, members = service(request).create_capsule(ctx, body.template)
    return _view(request, ctx, row, members)


@router.get("")
@router.get("/")
def list_capsules(request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    found = service(request).list_capsules(ctx, all_projects=flag(request, "all_projects"))
    return {"capsules": [_view(request, ctx, row, members) for row, members in found]}


@router.get("/{ident}")
def show(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    row, members = service(request).get_capsule(ctx, ident)
    return _view(request, ctx, row, members)


@router.delete("/{ident}", status_code=204)
def delete(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    service(request).delete_capsule(ctx, ident)
    return Response(status_code=204)
