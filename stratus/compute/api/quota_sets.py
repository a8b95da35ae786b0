"""os-quota-sets and /limits: each project's limits and what it uses of them."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from stratus.compute import quotas
from stratus.compute.api.common import PREFIX, Backend, at_least, project_scoped
from stratus.compute.models import Quota
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router(prefix=PREFIX)

# The API's name of each quota, where it differs from the configuration's.
API_NAMES = {"injected_file_path_length": "injected_file_path_bytes"}
PERSONALITY = ("injected_files", "injected_file_content_bytes", "injected_file_path_length")
# Quotas of the network service Nova showed before 2.36 (fixed values here).
NETWORK = {"fixed_ips": -1, "floating_ips": 10, "security_group_rules": 20, "security_groups": 10}

Limit = Annotated[int, Field(ge=-1, le=2**31 - 1)]


class QuotaChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: Limit | None = None
    cores: Limit | None = None
    ram: Limit | None = None
    metadata_items: Limit | None = None
    key_pairs: Limit | None = None
    server_groups: Limit | None = None
    server_group_members: Limit | None = None
    injected_files: Limit | None = None
    injected_file_content_bytes: Limit | None = None
    injected_file_path_bytes: Limit | None = None
    force: bool = False


class QuotaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quota_set: QuotaChange


def _shown(request: Request) -> list[str]:
    """The quotas the negotiated version shows."""
    names = [name for name in quotas.RESOURCES if name not in PERSONALITY]
    if not at_least(request, "2.57"):
        names += PERSONALITY
    return names


def _render(
    request: Request, values: dict[str, Any], network: dict[str, Any] = NETWORK
) -> dict[str, Any]:
    body = {API_NAMES.get(name, name): values[name] for name in _shown(request)}
    if not at_least(request, "2.36"):
        body.update(network)
    return body


def _target(ctx: RequestContext, api: Backend, project_id: str) -> None:
    api.policy.enforce(ctx, "quotas:show", {"project_id": project_id})


@router.get("/os-quota-sets/{project_id}", summary="A project's quotas")
def show_quotas(
    project_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    _target(ctx, api, project_id)
    with api.db.session() as session:
        limits = quotas.limits(session, api.conf, project_id)
    return {"quota_set": {"id": project_id, **_render(request, limits)}}


@router.get("/os-quota-sets/{project_id}/defaults", summary="The default quotas")
def default_quotas(
    project_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "quotas:defaults")
    return {"quota_set": {"id": project_id, **_render(request, quotas.defaults(api.conf))}}


@router.get("/os-quota-sets/{project_id}/detail", summary="A project's quotas and usage")
def detail_quotas(
    project_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    _target(ctx, api, project_id)
    with api.db.session() as session:
        limits = quotas.limits(session, api.conf, project_id)
        used = quotas.usage(session, project_id)
        used["key_pairs"] = quotas.key_pairs_of(session, ctx.user_id)
    detail = {
        name: {"limit": limit, "in_use": used.get(name, 0), "reserved": 0}
        for name, limit in limits.items()
    }
    network = {k: {"limit": v, "in_use": 0, "reserved": 0} for k, v in NETWORK.items()}
    return {"quota_set": {"id": project_id, **_render(request, detail, network)}}


@router.put("/os-quota-sets/{project_id}", summary="Set a project's quotas")
def update_quotas(
    project_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: QuotaBody = Depends(json_body(QuotaBody)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "quotas:update")
    given = body.quota_set.model_dump(exclude_none=True, exclude={"force"})
    reverse = {api_name: name for name, api_name in API_NAMES.items()}
    changes = {reverse.get(name, name): value for name, value in given.items()}
    if at_least(request, "2.57") and set(changes) & set(PERSONALITY):
        raise BadRequest("The injected file quotas were removed in version 2.57.")
    with api.db.session() as session:
        used = quotas.usage(session, project_id)
        for name, value in changes.items():
            in_use = used.get(name, 0)
            if not body.quota_set.force and value != quotas.UNLIMITED and value < in_use:
                raise BadRequest(
                    f"Quota limit {value} for {name} must be greater than or equal to "
                    f"already used and reserved {in_use}."
                )
            row = session.get(Quota, (project_id, name))
            if row is None:
                session.add(Quota(project_id=project_id, resource=name, hard_limit=value))
            else:
                row.hard_limit = value
        session.flush()
        limits = quotas.limits(session, api.conf, project_id)
    return {"quota_set": _render(request, limits)}


@router.delete("/os-quota-sets/{project_id}", status_code=202, summary="Back to the defaults")
def delete_quotas(
    project_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    api.policy.enforce(ctx, "quotas:update")
    with api.db.session() as session:
        session.execute(sa.delete(Quota.__table__).where(Quota.project_id == project_id))
    return Response(status_code=202)


@router.get("/limits", summary="The caller's project's limits and usage")
def limits(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    project_id = request.query_params.get("tenant_id") or project_scoped(ctx)
    if project_id != ctx.project_id:
        api.policy.enforce(ctx, "limits:other_projects")
    with api.db.session() as session:
        limit = quotas.limits(session, api.conf, project_id)
        used = quotas.usage(session, project_id)
    absolute: dict[str, int] = {
        "maxServerMeta": limit["metadata_items"],
        "maxTotalKeypairs": limit["key_pairs"],
        "maxTotalInstances": limit["instances"],
        "maxTotalCores": limit["cores"],
        "maxTotalRAMSize": limit["ram"],
        "maxServerGroups": limit["server_groups"],
        "maxServerGroupMembers": limit["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if not at_least(request, "2.39"):
        absolute["maxImageMeta"] = limit["metadata_items"]
    if not at_least(request, "2.57"):
        absolute["maxPersonality"] = limit["injected_files"]
        absolute["maxPersonalitySize"] = limit["injected_file_content_bytes"]
    if not at_least(request, "2.36"):
        absolute.update(
            maxSecurityGroups=NETWORK["security_groups"],
            maxSecurityGroupRules=NETWORK["security_group_rules"],
            maxTotalFloatingIps=NETWORK["floating_ips"],
            totalFloatingIpsUsed=0,
            totalSecurityGroupsUsed=0,
        )
    return {"limits": {"rate": [], "absolute": absolute}}
