"""``/v2.0/routers``: routers, their external gateway, interfaces and static routes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stratus.network import agents, models, policy, ports, quotas, routers, tags
from stratus.network.api import access
from stratus.network.api.common import (
    Body,
    OwnedBody,
    UpdateBody,
    apply,
    boolean,
    check_revision,
    collection,
    fields_of,
    list_query,
    list_rows,
    match,
    owned,
    select_fields,
    standard_filters,
)
from stratus.network.api.networks import check_zones
from stratus.network.backend import Backend
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router()


class GatewayIP(Body):
    subnet_id: str | None = None
    ip_address: str | None = None


class GatewayInfo(Body):
    """An external gateway; ``{}`` (no network) means none."""

    network_id: str | None = None
    enable_snat: bool | None = None
    external_fixed_ips: list[GatewayIP] | None = None


class Route(Body):
    destination: str
    nexthop: str


class RouterCreate(OwnedBody):
    admin_state_up: bool = True
    external_gateway_info: GatewayInfo | None = None
    availability_zone_hints: list[str] = Field(default_factory=list)


class RouterUpdate(UpdateBody):
    admin_state_up: bool | None = None
    external_gateway_info: GatewayInfo | None = None
    routes: list[Route] | None = None


class CreateRequest(BaseModel):
    router: RouterCreate


class UpdateRequest(BaseModel):
    router: RouterUpdate


class RoutesBody(Body):
    routes: list[Route]


class RoutesRequest(BaseModel):
    router: RoutesBody


class InterfaceRequest(Body):
    subnet_id: str | None = None
    port_id: str | None = None


def render(router_row: models.Router, zones: list[str]) -> dict[str, Any]:
    gw = router_row.gw_port
    gateway = None
    if gw is not None:
        gateway = {
            "network_id": gw.network_id,
            "enable_snat": router_row.enable_snat,
            "external_fixed_ips": [
                {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in gw.fixed_ips
            ],
        }
    return {
        **owned(router_row),
        "name": router_row.name,
        "admin_state_up": router_row.admin_state_up,
        "status": router_row.status,
        "external_gateway_info": gateway,
        "routes": list(router_row.routes),
        "availability_zone_hints": list(router_row.availability_zone_hints),
        "availability_zones": sorted(set(zones)),
    }


def render_all(session: Session, rows: list[models.Router]) -> list[dict[str, Any]]:
    zones = agents.hosting_zones(
        session, models.RouterL3Agent, models.RouterL3Agent.router_id, [r.id for r in rows]
    )
    return [render(r, zones.get(r.id, [])) for r in rows]


FILTERS = {
    **standard_filters(models.Router),
    "admin_state_up": match(models.Router.admin_state_up, boolean),
    "status": match(models.Router.status),
}


@router.get("/v2.0/routers")
def list_routers(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(request, models.Router, FILTERS)

    def work(session: Session) -> dict[str, Any]:
        stmt = sa.select(models.Router).where(access.owned(models.Router, ctx))
        rows, links = list_rows(session, request, stmt, models.Router, query, "routers")
        return collection("routers", render_all(session, rows), links, query.fields)

    return be.transaction(work)


@router.get("/v2.0/routers/{router_id}")
def show_router(
    router_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render_all(session, [access.find(session, ctx, models.Router, router_id)])[0]

    return {"router": select_fields(be.transaction(work), fields_of(request))}


def _gateway(
    session: Session,
    ctx: RequestContext,
    action: str,
    target: dict[str, Any],
    info: GatewayInfo | None,
) -> routers.Gateway | None:
    if info is None or info.network_id is None:
        return None
    attributes = {
        "external_gateway_info:enable_snat": info.enable_snat is not None,
        "external_gateway_info:external_fixed_ips": bool(info.external_fixed_ips),
    }
    policy.enforce_attributes(ctx, action, attributes, target)
    network = access.find(session, ctx, models.Network, info.network_id)
    fixed = info.external_fixed_ips
    return routers.Gateway(
        network=network,
        enable_snat=info.enable_snat,
        fixed_ips=None if not fixed else [ports.FixedIP(f.subnet_id, f.ip_address) for f in fixed],
    )


@router.post("/v2.0/routers", status_code=201)
def create_router(
    body: CreateRequest = Depends(json_body(CreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.router
    project = spec.owner(ctx)
    target = {"project_id": project}
    policy.enforce(ctx, "create_router", target)

    def work(session: Session) -> dict[str, Any]:
        quotas.check(session, be.conf, project, "router")
        check_zones(session, "router", spec.availability_zone_hints)
        row = models.Router(
            id=new_id(),
            project_id=project,
            name=spec.name,
            description=spec.description,
            admin_state_up=spec.admin_state_up,
            enable_snat=be.conf.network.enable_snat_by_default,
            routes=[],
            availability_zone_hints=spec.availability_zone_hints,
        )
        gateway = _gateway(session, ctx, "create_router", target, spec.external_gateway_info)
        if gateway is not None:
            # Before the router is added, so that it is inserted with its gateway.
            routers.set_gateway(session, be, row, gateway)
        session.add(row)
        session.flush()
        return render(row, [])

    result = be.transaction(work)
    be.notifier.routers_changed([result["id"]])
    return {"router": result}


@router.put("/v2.0/routers/{router_id}")
def update_router(
    router_id: str,
    request: Request,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.router

    def work(session: Session) -> dict[str, Any]:
        row = access.find(session, ctx, models.Router, router_id)
        check_revision(request, row)
        target = {"project_id": row.project_id}
        policy.enforce(ctx, "update_router", target)
        if "external_gateway_info" in spec.model_fields_set:
            info = spec.external_gateway_info
            gateway = _gateway(session, ctx, "update_router", target, info)
            routers.set_gateway(session, be, row, gateway)
        if spec.routes is not None:
            row.routes = routers.check_routes(
                session, be, row, [r.model_dump() for r in spec.routes]
            )
        apply(row, spec, "name", "description", "admin_state_up")
        row.touch()
        session.flush()
        return render_all(session, [row])[0]

    result = be.transaction(work)
    be.notifier.routers_changed([router_id])
    return {"router": result}


def _change_routes(
    router_id: str,
    request: Request,
    body: RoutesRequest,
    ctx: RequestContext,
    be: Backend,
    add: bool,
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        row = access.find(session, ctx, models.Router, router_id)
        check_revision(request, row)
        policy.enforce(ctx, "update_router", {"project_id": row.project_id})
        changes = routers.check_routes(
            session, be, row, [r.model_dump() for r in body.router.routes]
        )
        if add:
            routes = list(row.routes) + [r for r in changes if r not in row.routes]
        else:
            routes = [r for r in row.routes if r not in changes]
        row.routes = routers.check_routes(session, be, row, routes)
        row.touch()
        session.flush()
        return render_all(session, [row])[0]

    result = be.transaction(work)
    be.notifier.routers_changed([router_id])
    return {"router": result}


@router.put("/v2.0/routers/{router_id}/add_extraroutes")
def add_extraroutes(
    router_id: str,
    request: Request,
    body: RoutesRequest = Depends(json_body(RoutesRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    return _change_routes(router_id, request, body, ctx, be, add=True)


@router.put("/v2.0/routers/{router_id}/remove_extraroutes")
def remove_extraroutes(
    router_id: str,
    request: Request,
    body: RoutesRequest = Depends(json_body(RoutesRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    return _change_routes(router_id, request, body, ctx, be, add=False)


def _interface_result(
    row: models.Router, port: models.Port, subnet_ids: list[str]
) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
    }


def _one_of(body: InterfaceRequest) -> None:
    if (body.subnet_id is None) == (body.port_id is None):
        raise BadRequest(
            "Bad router request: give either a subnet_id or a port_id.",
            error_type="BadRequest",
        )


@router.put("/v2.0/routers/{router_id}/add_router_interface")
def add_router_interface(
    router_id: str,
    body: InterfaceRequest = Depends(json_body(InterfaceRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    _one_of(body)

    def work(session: Session) -> dict[str, Any]:
        row = access.find(session, ctx, models.Router, router_id)
        policy.enforce(ctx, "add_router_interface", {"project_id": row.project_id})
        if body.subnet_id is not None:
            subnet = access.find(session, ctx, models.Subnet, body.subnet_id)
            port = routers.add_interface_by_subnet(session, be, row, subnet)
        else:
            port = access.find(session, ctx, models.Port, body.port_id or "")
            if port.project_id != row.project_id and not ctx.is_admin:
                raise Conflict(
                    f"Port {port.id} belongs to another project than router {row.id}.",
                    error_type="BadRequest",
                )
            routers.add_interface_by_port(session, row, port)
        return _interface_result(row, port, [a.subnet_id for a in port.fixed_ips])

    result = be.transaction(work)
    be.notifier.routers_changed([router_id])
    be.notifier.networks_changed([result["network_id"]])
    return result


@router.put("/v2.0/routers/{router_id}/remove_router_interface")
def remove_router_interface(
    router_id: str,
    body: InterfaceRequest = Depends(json_body(InterfaceRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    if body.subnet_id is None and body.port_id is None:
        _one_of(body)

    def work(session: Session) -> dict[str, Any]:
        row = access.find(session, ctx, models.Router, router_id)
        policy.enforce(ctx, "remove_router_interface", {"project_id": row.project_id})
        port = routers.find_interface(row, body.port_id, body.subnet_id)
        result = _interface_result(row, port, [a.subnet_id for a in port.fixed_ips])
        routers.remove_interface(session, row, port)
        return result

    result = be.transaction(work)
    be.notifier.routers_changed([router_id])
    be.notifier.networks_changed([result["network_id"]])
    return result


@router.delete("/v2.0/routers/{router_id}", status_code=204)
def delete_router(
    router_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> None:
        row = access.find(session, ctx, models.Router, router_id)
        check_revision(request, row)
        policy.enforce(ctx, "delete_router", {"project_id": row.project_id})
        if row.interfaces:
            raise Conflict(
                f"Router {row.id} still has ports: remove its "
                f"{len(row.interfaces)} interface(s) first.",
                error_type="RouterInUse",
            )
        routers.set_gateway(session, be, row, None)
        tags.drop(session, row.id)
        session.delete(row)

    be.transaction(work)
    be.notifier.routers_changed([router_id])
    return Response(status_code=204)
