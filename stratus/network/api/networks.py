"""``/v2.0/networks``: networks, with the provider and external-network attributes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, defaultload

from stratus.network import agents, dhcp, models, policy, ports, quotas, tags
from stratus.network.api import access
from stratus.network.api.common import (
    OwnedBody,
    UpdateBody,
    apply,
    boolean,
    check_revision,
    collection,
    fields_of,
    integer,
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
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router()
PROVIDER = ("segmentation_id", "physical_network", "network_type")
MIN_MTU = 68


class NetworkCreate(OwnedBody):
    admin_state_up: bool = True
    shared: bool = False
    router_external: bool = Field(False, alias="router:external")
    mtu: int | None = Field(None, ge=MIN_MTU)
    port_security_enabled: bool = True
    availability_zone_hints: list[str] = Field(default_factory=list)
    network_type: str | None = Field(None, alias="provider:network_type")
    physical_network: str | None = Field(None, alias="provider:physical_network", max_length=64)
    segmentation_id: int | None = Field(None, alias="provider:segmentation_id")


class NetworkUpdate(UpdateBody):
    admin_state_up: bool | None = None
    shared: bool | None = None
    router_external: bool | None = Field(None, alias="router:external")
    mtu: int | None = Field(None, ge=MIN_MTU)
    port_security_enabled: bool | None = None
    network_type: str | None = Field(None, alias="provider:network_type")
    physical_network: str | None = Field(None, alias="provider:physical_network")
    segmentation_id: int | None = Field(None, alias="provider:segmentation_id")


class CreateRequest(BaseModel):
    network: NetworkCreate


class UpdateRequest(BaseModel):
    network: NetworkUpdate


# A network's view shows its subnets' ids only: their tags are not loaded for it.
SUBNET_IDS = defaultload(models.Network.subnets).lazyload(models.Subnet.tags)


def render(network: models.Network, ctx: RequestContext, zones: list[str]) -> dict[str, Any]:
    body = {
        **owned(network),
        "name": network.name,
        "admin_state_up": network.admin_state_up,
        "status": network.status,
        "shared": network.shared,
        "router:external": network.external,
        "mtu": network.mtu,
        "port_security_enabled": network.port_security_enabled,
        "subnets": [s.id for s in network.subnets],
        "availability_zone_hints": list(network.availability_zone_hints),
        "availability_zones": sorted(set(zones)),
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
    }
    if policy.allowed(ctx, "get_network:provider"):
        segment = network.segments[0] if network.segments else None
        body["provider:network_type"] = segment.network_type if segment else None
        body["provider:physical_network"] = segment.physical_network if segment else None
        body["provider:segmentation_id"] = segment.segmentation_id if segment else None
    return body


def render_all(
    session: Session, networks: list[models.Network], ctx: RequestContext
) -> list[dict[str, Any]]:
    zones = agents.hosting_zones(
        session,
        models.NetworkDhcpAgent,
        models.NetworkDhcpAgent.network_id,
        [n.id for n in networks],
    )
    return [render(n, ctx, zones.get(n.id, [])) for n in networks]


def _segment_filter(column: Any, convert: Any = str) -> Any:
    def clause(values: list[str]) -> sa.ColumnElement[bool]:
        return models.Network.id.in_(
            sa.select(models.Segment.network_id).where(column.in_([convert(v) for v in values]))
        )

    return clause


FILTERS = {
    **standard_filters(models.Network),
    "admin_state_up": match(models.Network.admin_state_up, boolean),
    "status": match(models.Network.status),
    "shared": match(models.Network.shared, boolean),
    "router:external": match(models.Network.external, boolean),
    "mtu": match(models.Network.mtu, integer),
    "port_security_enabled": match(models.Network.port_security_enabled, boolean),
    "provider:network_type": _segment_filter(models.Segment.network_type),
    "provider:physical_network": _segment_filter(models.Segment.physical_network),
    "provider:segmentation_id": _segment_filter(models.Segment.segmentation_id, integer),
}


@router.get("/v2.0/networks")
def list_networks(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    filters = (
        FILTERS if ctx.is_admin else {k: v for k, v in FILTERS.items() if "provider:" not in k}
    )
    query = list_query(
        request,
        models.Network,
        filters,
        ("id", "name", "mtu", "status", "created_at", "updated_at", "project_id"),
    )

    def work(session: Session) -> dict[str, Any]:
        stmt = sa.select(models.Network).where(access.networks(ctx)).options(SUBNET_IDS)
        rows, links = list_rows(session, request, stmt, models.Network, query, "networks")
        return collection("networks", render_all(session, rows, ctx), links, query.fields)

    return be.transaction(work)


@router.post("/v2.0/networks", status_code=201)
def create_network(
    body: CreateRequest = Depends(json_body(CreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.network
    project = spec.owner(ctx)
    target = {"project_id": project}
    policy.enforce(ctx, "create_network", target)
    provider = spec.given("shared", "router_external", *PROVIDER)
    policy.enforce_attributes(ctx, "create_network", provider, target)
    if spec.network_type is None and (spec.physical_network or spec.segmentation_id is not None):
        raise BadRequest(
            "Invalid input for operation: provider:network_type is required with "
            "provider:physical_network or provider:segmentation_id.",
            error_type="InvalidInput",
        )

    def work(session: Session) -> dict[str, Any]:
        quotas.check(session, be.conf, project, "network")
        check_zones(session, "network", spec.availability_zone_hints)
        network = models.Network(
            id=new_id(),
            project_id=project,
            name=spec.name,
            description=spec.description,
            admin_state_up=spec.admin_state_up,
            shared=spec.shared,
            external=spec.router_external,
            port_security_enabled=spec.port_security_enabled,
            availability_zone_hints=spec.availability_zone_hints,
            mtu=0,
        )
        session.add(network)
        session.flush()
        segment = be.ml2.create_segment(
            session, network.id, spec.network_type, spec.physical_network, spec.segmentation_id
        )
        # The MTU follows from the segment, known only now: set in place, as part of the
        # creation rather than as a first revision.
        mtu = _mtu(spec.mtu, be.ml2.mtu(segment))
        session.execute(
            sa.update(models.Network).where(models.Network.id == network.id).values(mtu=mtu)
        )
        session.refresh(network)
        return render(network, ctx, [])

    return {"network": be.transaction(work)}


def check_zones(session: Session, resource: str, hints: list[str]) -> None:
    """A 400 unless every hint names a zone of ``resource`` (network or router) agents."""
    known = agents.zone_names(session, resource)
    unknown = [h for h in hints if h not in known]
    if unknown:
        raise BadRequest(
            f"AvailabilityZone {unknown[0]} could not be found.",
            error_type="AvailabilityZoneNotFound",
        )


def _mtu(requested: int | None, maximum: int) -> int:
    if requested is None:
        return maximum
    if requested > maximum:
        raise BadRequest(
            f"Invalid input for operation: requested MTU {requested} is too big; the "
            f"network's segment allows at most {maximum}.",
            error_type="InvalidInput",
        )
    return requested


@router.get("/v2.0/networks/{network_id}")
def show_network(
    network_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        network = access.find(session, ctx, models.Network, network_id, [SUBNET_IDS])
        return select_fields(render_all(session, [network], ctx)[0], fields_of(request))

    return {"network": be.transaction(work)}


@router.put("/v2.0/networks/{network_id}")
def update_network(
    network_id: str,
    request: Request,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.network

    def work(session: Session) -> dict[str, Any]:
        network = access.find(session, ctx, models.Network, network_id)
        check_revision(request, network)
        target = {"project_id": network.project_id}
        policy.enforce(ctx, "update_network", target)
        current = {"shared": network.shared, "router:external": network.external}
        changed = {
            k: v for k, v in spec.given("shared", "router_external").items() if v != current[k]
        }
        for name in changed:
            policy.enforce(ctx, f"update_network:{name}", target)
        _check_provider_unchanged(network, spec)
        if spec.shared is False and network.shared:
            _check_unshare(session, network)
        if spec.router_external is False and network.external:
            _check_not_external_in_use(session, network)
        if spec.mtu is not None:
            network.mtu = _mtu(spec.mtu, be.ml2.mtu(network.segments[0]))
        apply(
            network,
            spec,
            "name",
            "description",
            "admin_state_up",
            "shared",
            "port_security_enabled",
        )
        if spec.router_external is not None:
            network.external = spec.router_external
        network.touch()
        session.flush()
        return render_all(session, [network], ctx)[0]

    result = be.transaction(work)
    be.notifier.networks_changed([network_id])
    return {"network": result}


def _check_provider_unchanged(network: models.Network, spec: NetworkUpdate) -> None:
    segment = network.segments[0]
    for name, value in spec.given(*PROVIDER).items():
        if value != getattr(segment, name.partition(":")[2]):
            raise BadRequest(
                "Invalid input for operation: the provider attributes of a network cannot "
                "be changed.",
                error_type="InvalidInput",
            )


def _check_unshare(session: Session, network: models.Network) -> None:
    others = session.scalar(
        sa.select(models.Port.id).where(
            models.Port.network_id == network.id,
            models.Port.project_id != network.project_id,
            ~models.Port.device_owner.startswith("network:"),
        )
    )
    if others is not None:
        raise Conflict(
            f"Unable to reconfigure sharing settings for network {network.id}. Multiple "
            "projects are using it.",
            error_type="InvalidSharedSetting",
        )


def _check_not_external_in_use(session: Session, network: models.Network) -> None:
    used = session.scalar(
        sa.select(models.Port.id).where(
            models.Port.network_id == network.id,
            models.Port.device_owner.in_((ports.ROUTER_GATEWAY, ports.FLOATING_IP)),
        )
    )
    if used is not None:
        raise Conflict(
            f"Network {network.id} still carries router gateways or floating IPs, so it "
            "must stay external.",
            error_type="NetworkInUse",
        )


@router.delete("/v2.0/networks/{network_id}", status_code=204)
def delete_network(
    network_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> None:
        network = access.find(session, ctx, models.Network, network_id)
        check_revision(request, network)
        policy.enforce(ctx, "delete_network", {"project_id": network.project_id})
        in_use = session.scalar(
            sa.select(sa.func.count()).where(
                models.Port.network_id == network.id, models.Port.device_owner != ports.DHCP
            )
        )
        if in_use:
            raise Conflict(
                f"Unable to complete operation on network {network.id}. There are one or "
                f"more ports still in use on the network ({in_use}).",
                error_type="NetworkInUse",
            )
        # Changed first: of two deletes at once, the second fails on the network's row (and
        # is retried, to find it gone) before it removes any of its subnets or segments.
        network.touch()
        session.flush()
        dhcp_port = dhcp.port_of(session, network.id)
        if dhcp_port is not None:
            ports.delete(session, dhcp_port)
        for subnet in list(network.subnets):
            tags.drop(session, subnet.id)
            session.delete(subnet)
        tags.drop(session, network.id)
        session.delete(network)

    be.transaction(work)
    be.notifier.networks_changed([network_id])
    return Response(status_code=204)
