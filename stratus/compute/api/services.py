"""os-services: the compute services, their state, enabling and disabling them, forcing
them down (2.11), and by uuid from 2.53 on."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from stratus.compute import services as service_records
from stratus.compute import zones
from stratus.compute.api.common import PREFIX, Backend, at_least, backend, micro, transaction
from stratus.compute.models import ComputeNode, Instance, Service
from stratus.compute.scheduler.hosts import service_is_up
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import parse, read_json

router = Router(prefix=PREFIX + "/os-services")

Reason = Annotated[str, StringConstraints(min_length=1, max_length=255)]
AGENT_BINARY = service_records.AGENT[0]


class HostBinary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    binary: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    disabled_reason: Reason | None = None
    forced_down: bool | None = None


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["enabled", "disabled"] | None = None
    disabled_reason: Reason | None = None
    forced_down: bool | None = None


def view(request: Request, service: Service, zone: str, down_time: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": service.uuid if at_least(request, "2.53") else service.id,
        "binary": service.binary,
        "host": service.host,
        "zone": zone,
        "status": "disabled" if service.disabled else "enabled",
        "state": "up" if service_is_up(service, down_time) else "down",
        "updated_at": micro(service.last_seen_up),
        "disabled_reason": service.disabled_reason,
    }
    if at_least(request, "2.11"):
        body["forced_down"] = service.forced_down
    return body


def _zone(service: Service, host_zones: dict[str, str], default: str) -> str:
    if service.binary != AGENT_BINARY:
        return zones.INTERNAL
    return host_zones.get(service.host, default)


def _view_in(request: Request, session: Session, service: Service) -> dict[str, Any]:
    conf = backend(request).conf.compute
    zone = _zone(service, zones.host_zones(session), conf.default_availability_zone)
    return view(request, service, zone, conf.service_down_time)


@router.get("", summary="List compute services")
def list_services(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "services")
    stmt = sa.select(Service).order_by(Service.id)
    for key in ("host", "binary"):
        if request.query_params.get(key):
            stmt = stmt.where(getattr(Service, key) == request.query_params[key])
    conf = api.conf.compute
    with transaction(request) as session:
        host_zones = zones.host_zones(session)
        return {
            "services": [
                view(
                    request,
                    s,
                    _zone(s, host_zones, conf.default_availability_zone),
                    conf.service_down_time,
                )
                for s in session.scalars(stmt)
            ]
        }


def _by_host(session: Session, host: str, binary: str) -> Service:
    service = session.scalar(
        sa.select(Service).where(Service.host == host, Service.binary == binary)
    )
    if service is None:
        raise NotFound(f"Service {binary} on host {host} could not be found.")
    return service


@router.put("/{path}", summary="Update a service")
async def update_service(
    path: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    """From 2.53 ``PUT /os-services/{uuid}``; before, ``/enable``, ``/disable``,
    ``/disable-log-reason`` and ``/force-down`` (2.11) with host and binary."""
    api.policy.enforce(ctx, "services")
    document = await read_json(request)
    if at_least(request, "2.53"):
        return await run_in_threadpool(_update, request, path, parse(ServiceUpdate, document))
    change = parse(HostBinary, document)
    return await run_in_threadpool(_legacy_update, request, path, change)


def _update(request: Request, service_id: str, change: ServiceUpdate) -> dict[str, Any]:
    if change.status is None and change.forced_down is None:
        raise BadRequest("Give status, forced_down or both.")
    if change.disabled_reason is not None and change.status != "disabled":
        raise BadRequest("disabled_reason goes only with status 'disabled'.")
    with transaction(request) as session:
        service = _by_uuid(session, service_id)
        if change.status is not None:
            service.disabled = change.status == "disabled"
            service.disabled_reason = change.disabled_reason if service.disabled else None
        if change.forced_down is not None:
            if service.binary != AGENT_BINARY:
                raise BadRequest("Only compute services can be forced down.")
            service.forced_down = change.forced_down
        session.flush()
        return {"service": _view_in(request, session, service)}


_LEGACY = ("enable", "disable", "disable-log-reason", "force-down")


def _legacy_update(request: Request, action: str, change: HostBinary) -> dict[str, Any]:
    if action not in _LEGACY or (action == "force-down" and not at_least(request, "2.11")):
        raise NotFound(f"Unknown action {action}.")
    with transaction(request) as session:
        service = _by_host(session, change.host, change.binary)
        body: dict[str, Any] = {"host": service.host, "binary": service.binary}
        if action == "force-down":
            if change.forced_down is None:
                raise BadRequest("Invalid input: 'forced_down' is required.")
            service.forced_down = change.forced_down
            body["forced_down"] = service.forced_down
            return {"service": body}
        if action == "disable-log-reason" and change.disabled_reason is None:
            raise BadRequest("Invalid input: 'disabled_reason' is required.")
        service.disabled = action != "enable"
        service.disabled_reason = change.disabled_reason if service.disabled else None
        body["status"] = "disabled" if service.disabled else "enabled"
        if action == "disable-log-reason":
            body["disabled_reason"] = service.disabled_reason
        return {"service": body}


def _by_uuid(session: Session, service_id: str) -> Service:
    service = session.scalar(sa.select(Service).where(Service.uuid == service_id))
    if service is None:
        raise NotFound(f"Service {service_id} could not be found.")
    return service


@router.delete("/{service_id}", status_code=204, summary="Delete a service")
def delete_service(
    service_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    api.policy.enforce(ctx, "services")
    with transaction(request) as session:
        if at_least(request, "2.53"):
            _check_uuid(service_id)
            service = _by_uuid(session, service_id)
        else:
            if not service_id.isdigit():
                raise BadRequest(f"Invalid service id {service_id!r}: expected an integer.")
            service = session.get(Service, int(service_id))
            if service is None:
                raise NotFound(f"Service {service_id} could not be found.")
        if service.binary == AGENT_BINARY:
            hosted = session.scalar(
                sa.select(sa.func.count())
                .select_from(Instance)
                .where(Instance.host == service.host, Instance.deleted.is_(False))
            )
            if hosted:
                raise Conflict(
                    f"Unable to delete compute service that is hosting {hosted} servers."
                )
            session.execute(
                sa.delete(ComputeNode.__table__).where(ComputeNode.host == service.host)
            )
        session.delete(service)
    return Response(status_code=204)


def _check_uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid uuid {value}.") from exc
