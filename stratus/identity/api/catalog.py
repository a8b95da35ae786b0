"""What the catalog is made of: ``/v3/regions``, ``/v3/services`` and ``/v3/endpoints``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field
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
    listing,
    name_type,
    query_filters,
    save,
    transaction,
)
from stratus.identity.api.policy import allowed
from stratus.identity.models import (
    REGION_ID_LENGTH,
    SERVICE_FIELD_LENGTH,
    Endpoint,
    Region,
    Service,
    hex_id,
)
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.api.validation import json_body

router = APIRouter(tags=["catalog"])
RegionId = Annotated[str, Field(min_length=1, max_length=REGION_ID_LENGTH)]
ServiceText = name_type(SERVICE_FIELD_LENGTH)
Interface = Literal["public", "internal", "admin"]
Url = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[a-zA-Z0-9+.-]+://\S+$")]


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


class ServiceCreate(Body):
    type: ServiceText
    name: ServiceText | None = None
    description: Description = None
    enabled: bool = True


class ServiceUpdate(Patch):
    not_null = ("type", "enabled")

    type: ServiceText | None = None
    name: ServiceText | None = None
    description: Description = None
    enabled: bool | None = None


class CreateServiceRequest(Closed):
    service: ServiceCreate


class UpdateServiceRequest(Closed):
    service: ServiceUpdate


class EndpointCreate(Body):
    service_id: IdRef
    interface: Interface
    url: Url
    region_id: RegionId | None = None
    region: RegionId | None = None  # the v2-era name some clients still send
    enabled: bool = True


class EndpointUpdate(Patch):
    not_null = ("service_id", "interface", "url", "enabled")

    service_id: IdRef | None = None
    interface: Interface | None = None
    url: Url | None = None
    region_id: RegionId | None = None
    enabled: bool | None = None


class CreateEndpointRequest(Closed):
    endpoint: EndpointCreate


class UpdateEndpointRequest(Closed):
    endpoint: EndpointUpdate


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


@router.post("/v3/regions", status_code=201, summary="Create a region")
def create_region(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_region")),
    body: CreateRegionRequest = Depends(json_body(CreateRegionRequest)),
) -> dict[str, Any]:
    return _create_region(request, body.region.id, body.region)


@router.put("/v3/regions/{region_id}", status_code=201, summary="Create a region with its id")
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


@router.get("/v3/regions", summary="List regions")
def list_regions(
    request: Request, ctx: RequestContext = Depends(allowed("list_regions"))
) -> dict[str, Any]:
    filters = query_filters(request, Region, ("parent_region_id",))
    with transaction(request) as session:
        rows, marker = listing(request, session, Region, filters, sort_keys=("id",))
        return collection(request, "regions", [views.region(request, r) for r in rows], marker)


@router.get("/v3/regions/{region_id}", summary="Show a region")
def get_region(
    request: Request,
    region_id: str,
    ctx: RequestContext = Depends(allowed("get_region")),
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"region": views.region(request, fetch(session, Region, region_id, "region"))}


@router.patch("/v3/regions/{region_id}", summary="Update a region")
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


@router.delete("/v3/regions/{region_id}", status_code=204, summary="Delete a region")
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


@router.post("/v3/services", status_code=201, summary="Create a service")
def create_service(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_service")),
    body: CreateServiceRequest = Depends(json_body(CreateServiceRequest)),
) -> dict[str, Any]:
    data = body.service
    with transaction(request) as session:
        row = Service(
            type=data.type,
            name=data.name,
            description=data.description,
            enabled=data.enabled,
            extra=data.extras(),
        )
        save(session, row, f"service {data.type}")
        return {"service": views.service(request, row)}


@router.get("/v3/services", summary="List services")
def list_services(
    request: Request, ctx: RequestContext = Depends(allowed("list_services"))
) -> dict[str, Any]:
    filters = query_filters(request, Service, ("type", "name", "enabled"))
    with transaction(request) as session:
        rows, marker = listing(request, session, Service, filters, sort_keys=("type", "id"))
        return collection(request, "services", [views.service(request, s) for s in rows], marker)


@router.get("/v3/services/{service_id}", summary="Show a service")
def get_service(
    request: Request,
    service_id: str,
    ctx: RequestContext = Depends(allowed("get_service")),
) -> dict[str, Any]:
    with transaction(request) as session:
        return {"service": views.service(request, fetch(session, Service, service_id, "service"))}


@router.patch("/v3/services/{service_id}", summary="Update a service")
def update_service(
    request: Request,
    service_id: str,
    ctx: RequestContext = Depends(allowed("update_service")),
    body: UpdateServiceRequest = Depends(json_body(UpdateServiceRequest)),
) -> dict[str, Any]:
    data = body.service
    with transaction(request) as session:
        row = fetch(session, Service, service_id, "service")
        apply(row, data, ("type", "name", "description", "enabled"))
        row.extra = data.merge_into(row.extra)
        return {"service": views.service(request, row)}


@router.delete("/v3/services/{service_id}", status_code=204, summary="Delete a service")
def delete_service(
    request: Request,
    service_id: str,
    ctx: RequestContext = Depends(allowed("delete_service")),
) -> Response:
    """Its endpoints go with it."""
    with transaction(request) as session:
        session.delete(fetch(session, Service, service_id, "service"))
    return Response(status_code=204)


def _check_endpoint_refs(session: Session, service_id: str | None, region_id: str | None) -> None:
    if service_id is not None and session.get(Service, service_id) is None:
        raise BadRequest(f"Could not find service: {service_id}.")
    if region_id is not None and session.get(Region, region_id) is None:
        raise BadRequest(f"Could not find region: {region_id}.")


@router.post("/v3/endpoints", status_code=201, summary="Create an endpoint")
def create_endpoint(
    request: Request,
    ctx: RequestContext = Depends(allowed("create_endpoint")),
    body: CreateEndpointRequest = Depends(json_body(CreateEndpointRequest)),
) -> dict[str, Any]:
    data = body.endpoint
    region_id = data.region_id or data.region
    with transaction(request) as session:
        _check_endpoint_refs(session, data.service_id, region_id)
        row = Endpoint(
            service_id=data.service_id,
            interface=data.interface,
            url=data.url,
            region_id=region_id,
            enabled=data.enabled,
            extra=data.extras(),
        )
        save(session, row, f"endpoint {data.url}")
        return {"endpoint": views.endpoint(request, row)}


@router.get("/v3/endpoints", summary="List endpoints")
def list_endpoints(
    request: Request,
    ctx: RequestContext = Depends(allowed("list_endpoints")),
) -> dict[str, Any]:
    filters = query_filters(request, Endpoint, ("service_id", "interface", "region_id", "enabled"))
    with transaction(request) as session:
        rows, marker = listing(request, session, Endpoint, filters, sort_keys=("service_id", "id"))
        return collection(request, "endpoints", [views.endpoint(request, e) for e in rows], marker)


@router.get("/v3/endpoints/{endpoint_id}", summary="Show an endpoint")
def get_endpoint(
    request: Request,
    endpoint_id: str,
    ctx: RequestContext = Depends(allowed("get_endpoint")),
) -> dict[str, Any]:
    with transaction(request) as session:
        row = fetch(session, Endpoint, endpoint_id, "endpoint")
        return {"endpoint": views.endpoint(request, row)}


@router.patch("/v3/endpoints/{endpoint_id}", summary="Update an endpoint")
def update_endpoint(
    request: Request,
    endpoint_id: str,
    ctx: RequestContext = Depends(allowed("update_endpoint")),
    body: UpdateEndpointRequest = Depends(json_body(UpdateEndpointRequest)),
) -> dict[str, Any]:
    data = body.endpoint
    with transaction(request) as session:
        row = fetch(session, Endpoint, endpoint_id, "endpoint")
        _check_endpoint_refs(session, data.service_id, data.region_id)
        apply(row, data, ("service_id", "interface", "url", "region_id", "enabled"))
        row.extra = data.merge_into(row.extra)
        return {"endpoint": views.endpoint(request, row)}


@router.delete("/v3/endpoints/{endpoint_id}", status_code=204, summary="Delete an endpoint")
def delete_endpoint(
    request: Request,
    endpoint_id: str,
    ctx: RequestContext = Depends(allowed("delete_endpoint")),
) -> Response:
    with transaction(request) as session:
        session.delete(fetch(session, Endpoint, endpoint_id, "endpoint"))
    return Response(status_code=204)
