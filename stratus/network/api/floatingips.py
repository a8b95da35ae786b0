"""``/v2.0/floatingips``: addresses of an external network, associated with a fixed IP
of a port that a router connects to that external network."""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stratus.network import models, policy, ports, quotas, tags
from stratus.network.api import access
from stratus.network.api.common import (
    Body,
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
from stratus.network.backend import Backend
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router()


class FloatingIPCreate(Body):
    floating_network_id: str
    floating_ip_address: str | None = None
    subnet_id: str | None = None
    port_id: str | None = None
    fixed_ip_address: str | None = None
    description: str = Field("", max_length=models.NAME)
    project_id: str | None = None
    tenant_id: str | None = None


class FloatingIPUpdate(Body):
    port_id: str | None = None
    fixed_ip_address: str | None = None
    description: str | None = Field(None, max_length=models.NAME)


class CreateRequest(BaseModel):
    floatingip: FloatingIPCreate


class UpdateRequest(BaseModel):
    floatingip: FloatingIPUpdate


def render(floating: models.FloatingIP) -> dict[str, Any]:
    port = floating.fixed_port
    details = None
    if port is not None:
        details = {
            "name": port.name,
            "network_id": port.network_id,
            "mac_address": port.mac_address,
            "admin_state_up": port.admin_state_up,
            "status": port.status,
            "device_id": port.device_id,
            "device_owner": port.device_owner,
        }
    return {
        **owned(floating),
        "floating_network_id": floating.floating_network_id,
        "floating_ip_address": floating.floating_ip_address,
        "fixed_ip_address": floating.fixed_ip_address,
        "port_id": floating.fixed_port_id,
        "router_id": floating.router_id,
        "status": floating.status,
        "port_details": details,
    }


FILTERS = {
    **standard_filters(models.FloatingIP),
    "floating_network_id": match(models.FloatingIP.floating_network_id),
    "floating_ip_address": match(models.FloatingIP.floating_ip_address),
    "fixed_ip_address": match(models.FloatingIP.fixed_ip_address),
    "port_id": match(models.FloatingIP.fixed_port_id),
    "router_id": match(models.FloatingIP.router_id),
    "status": match(models.FloatingIP.status),
}
SORT_KEYS = ("id", "floating_ip_address", "status", "created_at", "project_id")


@router.get("/v2.0/floatingips")
def list_floatingips(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(request, models.FloatingIP, FILTERS, SORT_KEYS)

    def work(session: Session) -> dict[str, Any]:
        stmt = sa.select(models.FloatingIP).where(access.owned(models.FloatingIP, ctx))
        rows, links = list_rows(session, request, stmt, models.FloatingIP, query, "floatingips")
        return collection("floatingips", [render(f) for f in rows], links, query.fields)

    return be.transaction(work)


@router.get("/v2.0/floatingips/{floatingip_id}")
def show_floatingip(
    floatingip_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render(access.find(session, ctx, models.FloatingIP, floatingip_id))

    return {"floatingip": select_fields(be.transaction(work), fields_of(request))}


@router.post("/v2.0/floatingips", status_code=201)
def create_floatingip(
    body: CreateRequest = Depends(json_body(CreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.floatingip
    project = _owner(spec, ctx)
    target = {"project_id": project}
    policy.enforce(ctx, "create_floatingip", target)
    policy.enforce_attributes(
        ctx, "create_floatingip", {"floating_ip_address": spec.floating_ip_address}, target
    )

    def work(session: Session) -> dict[str, Any]:
        network = access.find(session, ctx, models.Network, spec.floating_network_id)
        if not network.external:
            raise BadRequest(
                f"Bad floatingip request: network {network.id} is not a valid external network.",
                error_type="BadRequest",
            )
        quotas.check(session, be.conf, project, "floatingip")
        floating = models.FloatingIP(
            id=new_id(),
            project_id=project,
            floating_network_id=network.id,
            description=spec.description,
            status="DOWN",
        )
        port = ports.create(
            session,
            be,
            network,
            ports.PortSpec(
                project_id="",
                device_owner=ports.FLOATING_IP,
                device_id=floating.id,
                fixed_ips=[_floating_address(network, spec)],
                security_groups=[],
            ),
        )
        floating.floating_port_id = port.id
        floating.floating_ip_address = port.fixed_ips[0].ip_address
        if spec.port_id is not None:
            _associate(session, ctx, floating, spec.port_id, spec.fixed_ip_address)
        session.add(floating)
        session.flush()
        return render(floating), _server_ports(floating)

    result, changed = be.transaction(work)
    be.notifier.routers_changed([result["router_id"]])
    be.compute_events.ports_changed(changed)
    return {"floatingip": result}


def _server_ports(floating: models.FloatingIP) -> list[tuple[str, str, str]]:
    """The port the floating IP is on, as (device owner, device id, port id)."""
    port = floating.fixed_port
    return [] if port is None else [(port.device_owner, port.device_id, port.id)]


def _owner(spec: FloatingIPCreate, ctx: RequestContext) -> str:
    if spec.project_id and spec.tenant_id and spec.project_id != spec.tenant_id:
        raise BadRequest("project_id and tenant_id do not match.", error_type="InvalidInput")
    project = spec.project_id or spec.tenant_id or ctx.project_id
    if not project:
        raise BadRequest(
            "A project-scoped token or a project_id is needed.", error_type="InvalidInput"
        )
    return project


def _floating_address(network: models.Network, spec: FloatingIPCreate) -> ports.FixedIP:
    """An IPv4 address of the external network: the one asked for, or any."""
    if spec.subnet_id is not None or spec.floating_ip_address is not None:
        return ports.FixedIP(spec.subnet_id, spec.floating_ip_address)
    for subnet in network.subnets:
        if subnet.ip_version == 4:
            return ports.FixedIP(subnet_id=subnet.id)
    raise BadRequest(
        f"Bad floatingip request: network {network.id} does not contain any IPv4 subnet.",
        error_type="BadRequest",
    )


def _associate(
    session: Session,
    ctx: RequestContext,
    floating: models.FloatingIP,
    port_id: str,
    fixed_ip: str | None,
) -> None:
    port = access.find(session, ctx, models.Port, port_id)
    if port.project_id != floating.project_id and not ctx.is_admin:
        raise BadRequest(
            f"Cannot bind floating IP {floating.floating_ip_address} to port {port.id}, since "
            "that port is owned by a different project.",
            error_type="BadRequest",
        )
    if port.network_id == floating.floating_network_id:
        raise BadRequest(
            f"Port {port.id} is on the external network {port.network_id} itself.",
            error_type="BadRequest",
        )
    allocation = _fixed_address(port, fixed_ip)
    found = session.scalar(
        sa.select(models.Router)
        .join(models.Port, models.Router.gw_port_id == models.Port.id)
        .where(
            models.Port.network_id == floating.floating_network_id,
            models.Router.id.in_(
                sa.select(models.RouterPort.router_id)
                .join(models.IPAllocation, models.IPAllocation.port_id == models.RouterPort.port_id)
                .where(models.IPAllocation.subnet_id == allocation.subnet_id)
            ),
        )
    )
    if found is None:
        raise NotFound(
            f"External network {floating.floating_network_id} is not reachable from subnet "
            f"{allocation.subnet_id}. Therefore, cannot associate Port {port.id} with a "
            "Floating IP.",
            error_type="ExternalGatewayForFloatingIPNotFound",
        )
    holder = session.scalar(
        sa.select(models.FloatingIP.id).where(
            models.FloatingIP.floating_network_id == floating.floating_network_id,
            models.FloatingIP.fixed_port_id == port.id,
            models.FloatingIP.fixed_ip_address == allocation.ip_address,
            models.FloatingIP.id != floating.id,
        )
    )
    if holder is not None:
        raise Conflict(
            f"Cannot associate floating IP {floating.floating_ip_address} with port {port.id} "
            f"using fixed IP {allocation.ip_address}, as that fixed IP already has floating IP "
            f"{holder} on external network {floating.floating_network_id}.",
            error_type="FloatingIPPortAlreadyAssociated",
        )
    floating.fixed_port_id = port.id
    floating.fixed_ip_address = allocation.ip_address
    floating.router_id = found.id


def _fixed_address(port: models.Port, fixed_ip: str | None) -> models.IPAllocation:
    ipv4 = [a for a in port.fixed_ips if ipaddress.ip_address(a.ip_address).version == 4]
    if fixed_ip is not None:
        for allocation in ipv4:
            if allocation.ip_address == fixed_ip:
                return allocation
        raise BadRequest(
            f"Port {port.id} does not have fixed IPv4 address {fixed_ip}.", error_type="BadRequest"
        )
    if not ipv4:
        raise BadRequest(
            f"Bad floatingip request: port {port.id} has no fixed IPv4 address.",
            error_type="BadRequest",
        )
    if len(ipv4) > 1:
        raise BadRequest(
            f"Port {port.id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 "
            "address when assigning a floating IP.",
            error_type="BadRequest",
        )
    return ipv4[0]


@router.put("/v2.0/floatingips/{floatingip_id}")
def update_floatingip(
    floatingip_id: str,
    request: Request,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.floatingip

    def work(session: Session) -> tuple[dict[str, Any], str | None, list[tuple[str, str, str]]]:
        floating = access.find(session, ctx, models.FloatingIP, floatingip_id)
        check_revision(request, floating)
        policy.enforce(ctx, "update_floatingip", {"project_id": floating.project_id})
        previous = floating.router_id
        before = _server_ports(floating)
        if "port_id" in spec.model_fields_set:
            if spec.port_id is None:
                ports.disassociate(floating)
            else:
                _associate(session, ctx, floating, spec.port_id, spec.fixed_ip_address)
        if spec.description is not None:
            floating.description = spec.description
        floating.touch()
        session.flush()
        session.expire(floating, ["fixed_port"])
        after = _server_ports(floating)
        return render(floating), previous, [] if before == after else before + after

    result, previous, changed = be.transaction(work)
    be.notifier.routers_changed([result["router_id"], previous])
    be.compute_events.ports_changed(changed)
    return {"floatingip": result}


@router.delete("/v2.0/floatingips/{floatingip_id}", status_code=204)
def delete_floatingip(
    floatingip_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> tuple[str | None, list[tuple[str, str, str]]]:
        floating = access.find(session, ctx, models.FloatingIP, floatingip_id)
        check_revision(request, floating)
        policy.enforce(ctx, "delete_floatingip", {"project_id": floating.project_id})
        router_id = floating.router_id
        changed = _server_ports(floating)
        port = session.get_one(models.Port, floating.floating_port_id)
        tags.drop(session, floating.id)
        session.delete(floating)
        session.flush()
        ports.delete(session, port)
        return router_id, changed

    router_id, changed = be.transaction(work)
    be.notifier.routers_changed([router_id] if router_id else [])
    be.compute_events.ports_changed(changed)
    return Response(status_code=204)
