"""os-aggregates: groups of hosts with metadata, one of which may name their
availability zone; uuids shown from 2.41."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.orm import Session

from stratus.compute import zones
from stratus.compute.api.common import PREFIX, Backend, at_least, micro, transaction
from stratus.compute.models import Aggregate, AggregateHost, AggregateMetadata, Service
from stratus.compute.services import AGENT
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.db import new_id

router = Router(prefix=PREFIX + "/os-aggregates")

Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]
Key = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class NewAggregate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    availability_zone: Name | None = None


class AggregateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aggregate: NewAggregate


class AggregateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    availability_zone: Name | None = None


class AggregateChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aggregate: AggregateChange


class HostRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: Key


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: dict[Key, Annotated[str, StringConstraints(max_length=255)] | None]


class AggregateAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add_host: HostRef | None = None
    remove_host: HostRef | None = None
    set_metadata: Metadata | None = None


def view(request: Request, aggregate: Aggregate, *, full: bool = True) -> dict[str, Any]:
    metadata = aggregate.metadata_dict
    body: dict[str, Any] = {
        "id": aggregate.id,
        "name": aggregate.name,
        "availability_zone": metadata.get(zones.AZ_KEY),
        "created_at": micro(aggregate.created_at),
        "updated_at": micro(aggregate.updated_at),
        "deleted": False,
        "deleted_at": None,
    }
    if full:
        body["hosts"] = sorted(h.host for h in aggregate.hosts)
        body["metadata"] = metadata
    if at_least(request, "2.41"):
        body["uuid"] = aggregate.uuid
    return body


def _find(session: Session, aggregate_id: str) -> Aggregate:
    aggregate = session.get(Aggregate, int(aggregate_id)) if aggregate_id.isdigit() else None
    if aggregate is None:
        raise NotFound(f"Aggregate {aggregate_id} could not be found.")
    return aggregate


def _check_name(session: Session, name: str, exclude: int | None = None) -> None:
    stmt = sa.select(Aggregate.id).where(Aggregate.name == name, Aggregate.id != (exclude or 0))
    if session.scalar(stmt) is not None:
        raise Conflict(f"Aggregate {name} already exists.")


def _check_zone_change(session: Session, aggregate: Aggregate, zone: str | None) -> None:
    """A host is in one zone: its other aggregates must not name a different one."""
    for member in aggregate.hosts:
        _check_host_zone(session, member.host, zone, exclude=aggregate.id)


def _check_host_zone(session: Session, host: str, zone: str | None, exclude: int) -> None:
    if zone is None:
        return
    others = session.scalars(
        sa.select(AggregateMetadata.value)
        .join(AggregateHost, AggregateHost.aggregate_id == AggregateMetadata.aggregate_id)
        .where(AggregateHost.host == host, AggregateMetadata.key == zones.AZ_KEY)
        .where(AggregateMetadata.aggregate_id != exclude)
    )
    conflicting = sorted(set(others) - {zone})
    if conflicting:
        raise Conflict(
            f"Host {host} is already in availability zone {conflicting[0]}; "
            f"it cannot also be in {zone}."
        )


def _set_metadata(aggregate: Aggregate, changes: dict[str, str | None]) -> None:
    items = {item.key: item for item in aggregate.metadata_items}
    for key, value in changes.items():
        if value is None:
            if key in items:
                aggregate.metadata_items.remove(items[key])
        elif key in items:
            items[key].value = value
        else:
            aggregate.metadata_items.append(AggregateMetadata(key=key, value=value))


@router.get("", summary="List aggregates")
def list_aggregates(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "aggregates")
    with transaction(request) as session:
        rows = session.scalars(sa.select(Aggregate).order_by(Aggregate.id))
        return {"aggregates": [view(request, a) for a in rows]}


@router.post("", summary="Create an aggregate")
def create_aggregate(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: AggregateBody = Depends(json_body(AggregateBody)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "aggregates")
    with transaction(request) as session:
        _check_name(session, body.aggregate.name)
        aggregate = Aggregate(uuid=new_id(), name=body.aggregate.name)
        if body.aggregate.availability_zone:
            _set_metadata(aggregate, {zones.AZ_KEY: body.aggregate.availability_zone})
        session.add(aggregate)
        session.flush()
        return {"aggregate": view(request, aggregate, full=False)}


@router.get("/{aggregate_id}", summary="Show an aggregate")
def show_aggregate(
    aggregate_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "aggregates")
    with transaction(request) as session:
        return {"aggregate": view(request, _find(session, aggregate_id))}


@router.put("/{aggregate_id}", summary="Rename an aggregate or change its zone")
def update_aggregate(
    aggregate_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: AggregateChangeBody = Depends(json_body(AggregateChangeBody)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "aggregates")
    change = body.aggregate
    if change.name is None and change.availability_zone is None:
        raise BadRequest("Give a name, an availability_zone or both.")
    with transaction(request) as session:
        aggregate = _find(session, aggregate_id)
        if change.name is not None:
            _check_name(session, change.name, exclude=aggregate.id)
            aggregate.name = change.name
        if change.availability_zone is not None:
            _check_zone_change(session, aggregate, change.availability_zone)
            _set_metadata(aggregate, {zones.AZ_KEY: change.availability_zone})
        session.flush()
        return {"aggregate": view(request, aggregate)}


@router.delete("/{aggregate_id}", summary="Delete an aggregate")
def delete_aggregate(
    aggregate_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    api.policy.enforce(ctx, "aggregates")
    with transaction(request) as session:
        aggregate = _find(session, aggregate_id)
        if aggregate.hosts:
            raise BadRequest(f"Cannot delete aggregate {aggregate_id}: it still has hosts.")
        session.delete(aggregate)
    return Response(status_code=200)


@router.post("/{aggregate_id}/action", summary="Add or remove a host, or set metadata")
def aggregate_action(
    aggregate_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: AggregateAction = Depends(json_body(AggregateAction)),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "aggregates")
    given = [a for a in (body.add_host, body.remove_host, body.set_metadata) if a is not None]
    if len(given) != 1:
        raise BadRequest("Give exactly one of add_host, remove_host or set_metadata.")
    with transaction(request) as session:
        aggregate = _find(session, aggregate_id)
        hosts = {h.host: h for h in aggregate.hosts}
        zone = aggregate.metadata_dict.get(zones.AZ_KEY)
        if body.add_host is not None:
            host = body.add_host.host
            known = session.scalar(
                sa.select(Service.id).where(Service.host == host, Service.binary == AGENT[0])
            )
            if known is None:
                raise NotFound(f"Compute host {host} could not be found.")
            if host in hosts:
                raise Conflict(f"Aggregate {aggregate_id} already has host {host}.")
            _check_host_zone(session, host, zone, exclude=aggregate.id)
            aggregate.hosts.append(AggregateHost(host=host))
        elif body.remove_host is not None:
            host = body.remove_host.host
            if host not in hosts:
                raise NotFound(
                    f"Cannot remove host {host} from aggregate {aggregate_id}: not found."
                )
            aggregate.hosts.remove(hosts[host])
        else:
            assert body.set_metadata is not None
            changes = body.set_metadata.metadata
            if changes.get(zones.AZ_KEY):
                _check_zone_change(session, aggregate, changes[zones.AZ_KEY])
            _set_metadata(aggregate, changes)
        session.flush()
        return {"aggregate": view(request, aggregate)}
