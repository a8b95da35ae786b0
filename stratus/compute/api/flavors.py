"""Flavors: list, show, create, update (description), delete; extra specs; access of
projects to private flavors."""

from __future__ import annotations

import re
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints
from sqlalchemy.orm import Session

from stratus.compute.api.common import (
    PREFIX,
    Backend,
    at_least,
    backend,
    links,
    next_link,
    query_bool,
    query_int,
    transaction,
)
from stratus.compute.models import Flavor, FlavorExtraSpec, FlavorProject
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.pagination import page_params, paginate
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router(prefix=PREFIX + "/flavors")

SORT_KEYS = (
    "created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public",
    "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpus",
)  # fmt: skip
FLAVOR_ID = re.compile(r"^(?! )[a-zA-Z0-9. _-]+(?<! )$")
SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")

Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


class NewFlavor(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    id: str | int | None = None
    ram: Annotated[int, Field(ge=1, le=2**31 - 1)]
    vcpus: Annotated[int, Field(ge=1, le=2**31 - 1)]
    disk: Count
    ephemeral: Count = Field(0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: Count = 0
    rxtx_factor: Annotated[float, Field(gt=0, le=3.40282e38)] = 1.0
    is_public: bool = Field(True, alias="os-flavor-access:is_public")
    description: Annotated[str, Field(max_length=65535)] | None = None


class FlavorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flavor: NewFlavor


class FlavorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[str, Field(max_length=65535)] | None


class FlavorUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flavor: FlavorUpdate


class ExtraSpecsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    extra_specs: dict[str, str | int | float | bool]


class ExtraSpecBody(RootModel[dict[str, str | int | float | bool]]):
    """``{key: value}`` for the key the URL names."""


class TenantRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class FlavorAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    addTenantAccess: TenantRef | None = None  # noqa: N815 - the wire name
    removeTenantAccess: TenantRef | None = None  # noqa: N815 - the wire name


# -- views ------------------------------------------------------------------------------


def summary(request: Request, flavor: Flavor) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(request, "flavors", flavor.flavorid),
    }
    if at_least(request, "2.55"):
        body["description"] = flavor.description
    return body


def detail(request: Request, flavor: Flavor, ctx: RequestContext) -> dict[str, Any]:
    backend_ = backend(request)
    swap: int | str = flavor.swap
    if not at_least(request, "2.75") and not swap:
        swap = ""
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "vcpus": flavor.vcpus,
        "disk": flavor.root_gb,
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "swap": swap,
        "rxtx_factor": flavor.rxtx_factor,
        "OS-FLV-DISABLED:disabled": flavor.disabled,
        "os-flavor-access:is_public": flavor.is_public,
        "links": links(request, "flavors", flavor.flavorid),
    }
    if at_least(request, "2.55"):
        body["description"] = flavor.description
    if at_least(request, "2.61") and backend_.policy.check(ctx, "flavors:extra_specs:read"):
        body["extra_specs"] = flavor.specs
    return body


# -- finding ----------------------------------------------------------------------------


def _visible(ctx: RequestContext) -> sa.ColumnElement[bool]:
    """Public flavors, and the private ones the caller's project was given."""
    return sa.or_(
        Flavor.is_public.is_(True),
        Flavor.projects.any(FlavorProject.project_id == (ctx.project_id or "")),
    )


def find_flavor(session: Session, ctx: RequestContext, flavor_id: str) -> Flavor:
    """The flavor if the caller may use it, else a 404."""
    stmt = sa.select(Flavor).where(Flavor.flavorid == flavor_id)
    if not ctx.is_admin:
        stmt = stmt.where(_visible(ctx))
    flavor = session.scalar(stmt)
    if flavor is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def _list(request: Request, ctx: RequestContext) -> tuple[list[Flavor], str | None]:
    query = request.query_params
    stmt = sa.select(Flavor)
    if ctx.is_admin:
        raw = query.get("is_public")
        if raw is None or raw.lower() != "none":
            stmt = stmt.where(Flavor.is_public.is_(query_bool("is_public", raw or "true")))
    else:
        stmt = stmt.where(_visible(ctx), Flavor.disabled.is_(False))
    if query.get("minRam"):
        stmt = stmt.where(Flavor.memory_mb >= query_int("minRam", query["minRam"]))
    if query.get("minDisk"):
        stmt = stmt.where(Flavor.root_gb >= query_int("minDisk", query["minDisk"]))
    page = page_params(
        query,
        sort_keys=SORT_KEYS,
        default_sort=[("flavorid", "asc")],
        max_limit=backend(request).max_limit,
    )
    with transaction(request) as session:
        return paginate(session, stmt, Flavor, page, marker_column="flavorid")


# -- flavors ----------------------------------------------------------------------------


@router.get("", summary="List flavors")
def list_flavors(request: Request, ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
    rows, marker = _list(request, ctx)
    body: dict[str, Any] = {"flavors": [summary(request, f) for f in rows]}
    if marker:
        body["flavors_links"] = next_link(request, "flavors", marker)
    return body


@router.get("/detail", summary="List flavors with details")
def list_flavors_detail(
    request: Request, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    rows, marker = _list(request, ctx)
    body: dict[str, Any] = {"flavors": [detail(request, f, ctx) for f in rows]}
    if marker:
        body["flavors_links"] = next_link(request, "flavors/detail", marker)
    return body


@router.get("/{flavor_id}", summary="Show a flavor")
def show_flavor(
    flavor_id: str, request: Request, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"flavor": detail(request, find_flavor(session, ctx, flavor_id), ctx)}


@router.post("", summary="Create a flavor")
def create_flavor(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: FlavorBody = Depends(json_body(FlavorBody)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:manage")
    new = body.flavor
    if new.description is not None and not at_least(request, "2.55"):
        raise BadRequest("Invalid input: 'flavor.description' is not an allowed field")
    flavor_id = new.id if new.id is not None else new_id()
    flavor_id = str(flavor_id)
    if not FLAVOR_ID.match(flavor_id) or len(flavor_id) > 255:
        raise BadRequest(f"Invalid flavor id {flavor_id!r}: use letters, digits, '.', '_', '-'.")
    with api.db.session() as session:
        if session.scalar(sa.select(Flavor.id).where(Flavor.name == new.name)):
            raise Conflict(f"Flavor with name {new.name} already exists.")
        if session.scalar(sa.select(Flavor.id).where(Flavor.flavorid == flavor_id)):
            raise Conflict(f"Flavor with ID {flavor_id} already exists.")
        flavor = Flavor(
            flavorid=flavor_id,
            name=new.name,
            memory_mb=new.ram,
            vcpus=new.vcpus,
            root_gb=new.disk,
            ephemeral_gb=new.ephemeral,
            swap=new.swap,
            rxtx_factor=new.rxtx_factor,
            is_public=new.is_public,
            description=new.description,
        )
        session.add(flavor)
        session.flush()
        return {"flavor": detail(request, flavor, ctx)}


@router.put("/{flavor_id}", summary="Update a flavor's description")
def update_flavor(
    flavor_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: FlavorUpdateBody = Depends(json_body(FlavorUpdateBody)),
) -> dict[str, Any]:
    if not at_least(request, "2.55"):
        raise NotFound("The resource could not be found.")
    api.policy.enforce(ctx, "flavors:manage")
    with api.db.session() as session:
        flavor = find_flavor(session, ctx, flavor_id)
        flavor.description = body.flavor.description
        session.flush()
        return {"flavor": detail(request, flavor, ctx)}


@router.delete("/{flavor_id}", status_code=202, summary="Delete a flavor")
def delete_flavor(
    flavor_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    api.policy.enforce(ctx, "flavors:manage")
    with api.db.session() as session:
        session.delete(find_flavor(session, ctx, flavor_id))
    return Response(status_code=202)


# -- extra specs ------------------------------------------------------------------------


def _spec_value(key: str, value: Any) -> str:
    if not SPEC_KEY.match(key):
        raise BadRequest(
            f"Invalid extra spec key {key!r}: use 1-255 letters, digits, '-', '_', ':', '.', ' '."
        )
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if len(text) > 255:
        raise BadRequest(f"The value of extra spec {key!r} is longer than 255 characters.")
    return text


@router.get("/{flavor_id}/os-extra_specs", summary="List a flavor's extra specs")
def list_extra_specs(
    flavor_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:extra_specs:read")
    with transaction(request) as session:
        return {"extra_specs": find_flavor(session, ctx, flavor_id).specs}


@router.post("/{flavor_id}/os-extra_specs", summary="Create or update extra specs")
def create_extra_specs(
    flavor_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: ExtraSpecsBody = Depends(json_body(ExtraSpecsBody)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:manage")
    specs = {key: _spec_value(key, value) for key, value in body.extra_specs.items()}
    with api.db.session() as session:
        flavor = find_flavor(session, ctx, flavor_id)
        _set_specs(flavor, specs)
    return {"extra_specs": specs}


def _set_specs(flavor: Flavor, specs: dict[str, str]) -> None:
    existing = {spec.key: spec for spec in flavor.extra_specs}
    for key, value in specs.items():
        if key in existing:
            existing[key].value = value
        else:
            flavor.extra_specs.append(FlavorExtraSpec(key=key, value=value))


@router.get("/{flavor_id}/os-extra_specs/{key}", summary="Show an extra spec")
def show_extra_spec(
    flavor_id: str,
    key: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:extra_specs:read")
    with transaction(request) as session:
        specs = find_flavor(session, ctx, flavor_id).specs
    if key not in specs:
        raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return {key: specs[key]}


@router.put("/{flavor_id}/os-extra_specs/{key}", summary="Set an extra spec")
def update_extra_spec(
    flavor_id: str,
    key: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: ExtraSpecBody = Depends(json_body(ExtraSpecBody)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:manage")
    if list(body.root) != [key]:
        raise BadRequest("The request body must hold exactly the key the URL names.")
    value = _spec_value(key, body.root[key])
    with api.db.session() as session:
        _set_specs(find_flavor(session, ctx, flavor_id), {key: value})
    return {key: value}


@router.delete("/{flavor_id}/os-extra_specs/{key}", summary="Delete an extra spec")
def delete_extra_spec(
    flavor_id: str,
    key: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    api.policy.enforce(ctx, "flavors:manage")
    with api.db.session() as session:
        flavor = find_flavor(session, ctx, flavor_id)
        spec = next((s for s in flavor.extra_specs if s.key == key), None)
        if spec is None:
            raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        flavor.extra_specs.remove(spec)
    return Response(status_code=200)


# -- access -----------------------------------------------------------------------------


def _access(flavor: Flavor) -> dict[str, Any]:
    return {
        "flavor_access": [
            {"flavor_id": flavor.flavorid, "tenant_id": p.project_id}
            for p in sorted(flavor.projects, key=lambda p: p.project_id)
        ]
    }


@router.get("/{flavor_id}/os-flavor-access", summary="List the projects given a flavor")
def list_flavor_access(
    flavor_id: str,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:access")
    with api.db.session() as session:
        flavor = find_flavor(session, ctx, flavor_id)
        if flavor.is_public:
            raise NotFound("Access list not available for public flavors.")
        return _access(flavor)


@router.post("/{flavor_id}/action", summary="Give or take a project's access to a flavor")
def flavor_action(
    flavor_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: FlavorAction = Depends(json_body(FlavorAction)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "flavors:access")
    if (body.addTenantAccess is None) == (body.removeTenantAccess is None):
        raise BadRequest("Give exactly one of addTenantAccess or removeTenantAccess.")
    with api.db.session() as session:
        flavor = find_flavor(session, ctx, flavor_id)
        projects = {p.project_id: p for p in flavor.projects}
        if body.addTenantAccess is not None:
            tenant = body.addTenantAccess.tenant
            if flavor.is_public and at_least(request, "2.7"):
                raise Conflict("Can not add access to a public flavor.")
            if tenant in projects:
                raise Conflict(f"Project {tenant} already has access to flavor {flavor_id}.")
            flavor.projects.append(FlavorProject(project_id=tenant))
        else:
            assert body.removeTenantAccess is not None
            tenant = body.removeTenantAccess.tenant
            if tenant not in projects:
                raise NotFound(f"Flavor access not found for {flavor_id} / {tenant} combination.")
            flavor.projects.remove(projects[tenant])
        session.flush()
        return _access(flavor)
