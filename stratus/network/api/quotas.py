"""``/v2.0/quotas``: per-project limits, their defaults and (``/details``) usage."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from stratus.network import models, policy, quotas
from stratus.network.backend import Backend
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router()
LIMIT = Field(None, ge=-1)


class QuotaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: int | None = LIMIT
    subnet: int | None = LIMIT
    subnetpool: int | None = LIMIT
    port: int | None = LIMIT
    router: int | None = LIMIT
    floatingip: int | None = LIMIT
    security_group: int | None = LIMIT
    security_group_rule: int | None = LIMIT
    check_limit: bool = False


class QuotaRequest(BaseModel):
    quota: QuotaBody


@router.get("/v2.0/quotas")
def list_quotas(
    ctx: RequestContext = Depends(authenticated), be: Backend = Depends(app_backend)
) -> dict[str, Any]:
    policy.enforce(ctx, "get_quotas")

    def work(session: Session) -> dict[str, Any]:
        projects = session.scalars(sa.select(models.Quota.project_id).distinct())
        return {
            "quotas": [
                {**quotas.limits(session, be.conf, p), "project_id": p, "tenant_id": p}
                for p in sorted(projects)
            ]
        }

    return be.transaction(work)


@router.get("/v2.0/quotas/{project_id}")
def show_quota(
    project_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    policy.enforce(ctx, "get_quota", {"project_id": project_id})
    return {"quota": be.transaction(lambda s: quotas.limits(s, be.conf, project_id))}


@router.get("/v2.0/quotas/{project_id}/default")
def show_defaults(
    project_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    policy.enforce(ctx, "get_quota", {"project_id": project_id})
    return {"quota": quotas.defaults(be.conf)}


@router.get("/v2.0/quotas/{project_id}/details")
def show_details(
    project_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    policy.enforce(ctx, "get_quota", {"project_id": project_id})

    def work(session: Session) -> dict[str, Any]:
        limits = quotas.limits(session, be.conf, project_id)
        used = quotas.usage(session, project_id)
        return {r: {"limit": limits[r], "used": used[r], "reserved": 0} for r in limits}

    return {"quota": be.transaction(work)}


@router.put("/v2.0/quotas/{project_id}")
def update_quota(
    project_id: str,
    body: QuotaRequest = Depends(json_body(QuotaRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    policy.enforce(ctx, "update_quota", {"project_id": project_id})
    wanted = {
        name: value
        for name, value in body.quota.model_dump(exclude={"check_limit"}).items()
        if value is not None
    }

    def work(session: Session) -> dict[str, Any]:
        if body.quota.check_limit:
            for name, limit in wanted.items():
                used = quotas.used(session, project_id, name)
                if 0 <= limit < used:
                    raise BadRequest(
                        f"Quota limit {limit} for {name} must be greater than or equal to "
                        f"already used and reserved {used}.",
                        error_type="InvalidQuotaValue",
                    )
        for name, limit in wanted.items():
            row = session.get(models.Quota, (project_id, name))
            if row is None:
                session.add(models.Quota(project_id=project_id, resource=name, limit=limit))
            else:
                row.limit = limit
        session.flush()
        return quotas.limits(session, be.conf, project_id)

    return {"quota": be.transaction(work)}


@router.delete("/v2.0/quotas/{project_id}", status_code=204)
def reset_quota(
    project_id: str,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    policy.enforce(ctx, "delete_quota", {"project_id": project_id})
    be.transaction(
        lambda s: s.execute(sa.delete(models.Quota).where(models.Quota.project_id == project_id))
    )
    return Response(status_code=204)
