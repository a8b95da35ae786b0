"""``/v1/quotas/{project_id}``: a project's limits (and usage), set by admins."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from stratus.container.api.common import flag, service
from stratus.container.schemas import QuotaUpdate
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v1/quotas")
Caller = Depends(authenticated)


@router.get("/{project_id}")
def show(project_id: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    return service(request).quota(ctx, project_id, usages=flag(request, "usages"))


@router.get("/{project_id}/defaults")
def defaults(project_id: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    return service(request).quota(ctx, project_id, usages=False, defaults=True)


@router.put("/{project_id}")
def update(
    project_id: str,
    request: Request,
    ctx: RequestContext = Caller,
    body: QuotaUpdate = Depends(json_body(QuotaUpdate)),
) -> dict[str, Any]:
    values = body.model_dump(exclude_none=True, exclude={"disk"})
    return service(request).set_quota(ctx, project_id, values)


@router.delete("/{project_id}", status_code=204)
def delete(project_id: str, request: Request, ctx: RequestContext = Caller) -> Response:
    service(request).delete_quota(ctx, project_id)
    return Response(status_code=204)
