"""``/v3/services`` and ``/v3/endpoints``: what the catalog lists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
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
from stratus.identity.api.regions import RegionId
from stratus.identity.models import (
    SERVICE_FIELD_LENGTH,
    Endpoint,
    Region,
    Service,
)
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(tags=["catalog"])
ServiceText = name_type(SERVICE_FIELD_LENGTH)
Interface = Literal["public", "internal", "admin"]
Url = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[a-zA-Z0-9+.-]+://\S+$")]


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
