"""``/v3/regions``: where endpoints are, optionally nested."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from stratus.identity.api import views
from stratus.identity.api.common import (
    Body,
    Closed,
    Description,
    Patch,
    apply,
    collection,
    fetch,
    listing,
    query_filters,
    save,
    transaction,
)
from stratus.identity.api.policy import allowed
from stratus.identity.models import (
    REGION_ID_LENGTH,
    Endpoint,
    Region,
    hex_id,
)
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix="/v3/regions", tags=["catalog"])
RegionId = Annotated[str, Field(min_length=1, max_length=REGION_ID_LENGTH)]


class RegionCreate(Body):
    id: RegionId | None = None
    description: Description = None
    parent_region_id: RegionId | None = None


class RegionUpdate(Patch):
    description: Description = None
    parent_region_id: RegionId | None = None


class CreateRegionRequest(Closed):
    region: RegionCreate


class UpdateRegionRequest(Closed):
    region: RegionUpdate


def _check_parent(session: Session, region_id: str, parent_id: str | None) -> None:
    """The parent region exists and is not the region itself or one of its descendants."""
    seen = {region_id}
    while parent_id is not None:
        if parent_id in seen:
            raise BadRequest(f"Region {parent_id} as parent would make a cycle of regions.")
        seen.add(parent_id)
        parent = session.get(Region, parent_id)
        if parent is None:
            raise BadRequest(f"Could not find parent region: {parent_id}.")
        parent_id = parent.parent_region_id


def _create_region(request: Request, region_id: str | None, data: RegionCreate) -> dict[str, Any]:
    with transaction(request) as session:
        region = Region(id=region_id or hex_id(), description=data.description, extra=data.extras())
        _check_parent(session, region.id, data.parent_region_id)
        region.parent_region_id = data.parent_region_id
        save(session, region, f"region {region.id}")
        return {"region": views.region(request, region)}


@router.post("", status_code=201, summary="Create a region")
def create_region(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_region")),
    body: CreateRegionRequest = Depends(json_body(CreateRegionRequest)),
) -> dict[str, Any]:
    return _create_region(request, body.region.id, body.region)


@router.put("/{region_id}", status_code=201, summary="Create a region with its id")
def create_region_with_id(
    request: Request,
    region_id: str,
    ctx: RequestContext = Depends(allowed("create_region")),
    body: CreateRegionRequest = Depends(json_body(CreateRegionRequest)),
) -> dict[str, Any]:
    if body.region.id not in (None, region_id):
        raise BadRequest("The region id in the body differs from the one in the path.")
    if len(region_id) > REGION_ID_LENGTH:
        raise BadRequest(f"A region id has at most {REGION_ID_LENGTH} characters.")
    return _create_region(request, region_id, body.region)


@router.get("", summary="List regions")
def list_regions(
    request: Request, ctx: RequestContext = Depends(allowed("list_regions"))
) -> dict[str, Any]:
    filters = query_filters(request, Region, ("parent_region_id",))
    with transaction(request) as session:
        rows, marker = listing(request, session, Region, filters, sort_keys=("id",))
        return collection(request, "regions", [views.region(request, r) for r in rows], marker)


@router.get("/{region_id}", summary="Show a region")
def get_region(
    request: Request,
    region_id: str,
    ctx: RequestContext = Depends(allowed("get_region")),
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"region": views.region(request, fetch(session, Region, region_id, "region"))}


@router.patch("/{region_id}", summary="Update a region")
def update_region(
    request: Request,
    region_id: str,
    ctx: RequestContext = Depends(allowed("update_region")),
    body: UpdateRegionRequest = Depends(json_body(UpdateRegionRequest)),
) -> dict[str, Any]:
    data = body.region
    with transaction(request) as session:
        region = fetch(session, Region, region_id, "region")
        if "parent_region_id" in data.model_fields_set:
            _check_parent(session, region.id, data.parent_region_id)
        apply(region, data, ("description", "parent_region_id"))
        region.extra = data.merge_into(region.extra)
        return {"region": views.region(request, region)}


@router.delete("/{region_id}", status_code=204, summary="Delete a region")
def delete_region(
    request: Request,
    region_id: str,
    ctx: RequestContext = Depends(allowed("delete_region")),
) -> Response:
    with transaction(request) as session:
        region = fetch(session, Region, region_id, "region")
        children = sa.select(Region.id).where(Region.parent_region_id == region_id).limit(1)
        endpoints = sa.select(Endpoint.id).where(Endpoint.region_id == region_id).limit(1)
        if session.scalar(children) is not None or session.scalar(endpoints) is not None:
            raise Conflict(f"Region {region_id} still has child regions or endpoints.")
        session.delete(region)
    return Response(status_code=204)
