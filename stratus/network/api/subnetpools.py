"""``/v2.0/subnetpools``: prefixes that subnets are carved out of (``subnetpool_id`` and
``prefixlen`` on subnet create), one of them per IP version the default."""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stratus.network import ipam, models, policy, quotas, tags
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
PREFIXLEN = Field(None, ge=0, le=128)


class PoolCreate(OwnedBody):
    prefixes: list[str] = Field(min_length=1)
    default_prefixlen: int | None = PREFIXLEN
    min_prefixlen: int | None = PREFIXLEN
    max_prefixlen: int | None = PREFIXLEN
    shared: bool = False
    is_default: bool = False
    default_quota: int | None = Field(None, ge=0)
    address_scope_id: None = None


class PoolUpdate(UpdateBody):
    prefixes: list[str] | None = Field(None, min_length=1)
    default_prefixlen: int | None = PREFIXLEN
    min_prefixlen: int | None = PREFIXLEN
    max_prefixlen: int | None = PREFIXLEN
    is_default: bool | None = None
    default_quota: int | None = Field(None, ge=0)


class CreateRequest(BaseModel):
    subnetpool: PoolCreate


class UpdateRequest(BaseModel):
    subnetpool: PoolUpdate


def render(pool: models.SubnetPool) -> dict[str, Any]:
    return {
        **owned(pool),
        "name": pool.name,
        "ip_version": pool.ip_version,
        "prefixes": list(pool.prefixes),
        "default_prefixlen": pool.default_prefixlen,
        "min_prefixlen": pool.min_prefixlen,
        "max_prefixlen": pool.max_prefixlen,
        "shared": pool.shared,
        "is_default": pool.is_default,
        "default_quota": pool.default_quota,
        "address_scope_id": None,
    }


FILTERS = {
    **standard_filters(models.SubnetPool),
    "ip_version": match(models.SubnetPool.ip_version, integer),
    "shared": match(models.SubnetPool.shared, boolean),
    "is_default": match(models.SubnetPool.is_default, boolean),
    "default_prefixlen": match(models.SubnetPool.default_prefixlen, integer),
}


def _prefixes(values: list[str]) -> tuple[int, list[str]]:
    nets = [ipam.parse_cidr(v, "prefixes") for v in values]
    versions = {n.version for n in nets}
    if len(versions) > 1:
        raise ipam.invalid("prefixes", "IPv4 and IPv6 prefixes cannot be mixed in one pool.")
    version = versions.pop()
    collapsed = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]
    return version, [str(n) for n in collapsed]


def _bounds(pool: models.SubnetPool) -> None:
    widest = max(ipaddress.ip_network(p).max_prefixlen for p in pool.prefixes)
    if not 0 <= pool.min_prefixlen <= pool.default_prefixlen <= pool.max_prefixlen <= widest:
        raise BadRequest(
            f"Illegal prefix bounds: min_prefixlen {pool.min_prefixlen}, default_prefixlen "
            f"{pool.default_prefixlen}, max_prefixlen {pool.max_prefixlen} must be in that "
            f"order, within 0-{widest}.",
            error_type="InvalidInput",
        )


def _check_single_default(session: Session, pool: models.SubnetPool) -> None:
    if not pool.is_default:
        return
    other = session.scalar(
        sa.select(models.SubnetPool.id).where(
            models.SubnetPool.is_default,
            models.SubnetPool.ip_version == pool.ip_version,
            models.SubnetPool.id != pool.id,
        )
    )
    if other is not None:
        raise Conflict(
            f"A default subnetpool for IPv{pool.ip_version} has already been set ({other}).",
            error_type="InvalidInput",
        )


@router.get("/v2.0/subnetpools")
def list_pools(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    query = list_query(request, models.SubnetPool, FILTERS)

    def work(session: Session) -> dict[str, Any]:
        stmt = sa.select(models.SubnetPool).where(access.subnetpools(ctx))
        rows, links = list_rows(session, request, stmt, models.SubnetPool, query, "subnetpools")
        return collection("subnetpools", [render(p) for p in rows], links, query.fields)

    return be.transaction(work)


@router.get("/v2.0/subnetpools/{pool_id}")
def show_pool(
    pool_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return render(access.find(session, ctx, models.SubnetPool, pool_id))

    return {"subnetpool": select_fields(be.transaction(work), fields_of(request))}


@router.post("/v2.0/subnetpools", status_code=201)
def create_pool(
    body: CreateRequest = Depends(json_body(CreateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.subnetpool
    project = spec.owner(ctx)
    target = {"project_id": project}
    policy.enforce(ctx, "create_subnetpool", target)
    policy.enforce_attributes(ctx, "create_subnetpool", spec.given("shared", "is_default"), target)
    version, prefixes = _prefixes(spec.prefixes)
    low = spec.min_prefixlen if spec.min_prefixlen is not None else (8 if version == 4 else 64)
    pool = models.SubnetPool(
        id=new_id(),
        project_id=project,
        name=spec.name,
        description=spec.description,
        ip_version=version,
        prefixes=prefixes,
        min_prefixlen=low,
        default_prefixlen=spec.default_prefixlen if spec.default_prefixlen is not None else low,
        max_prefixlen=(
            spec.max_prefixlen if spec.max_prefixlen is not None else (32 if version == 4 else 128)
        ),
        shared=spec.shared,
        is_default=spec.is_default,
        default_quota=spec.default_quota,
    )
    _bounds(pool)

    def work(session: Session) -> dict[str, Any]:
        quotas.check(session, be.conf, project, "subnetpool")
        _check_single_default(session, pool)
        session.add(pool)
        session.flush()
        return render(pool)

    return {"subnetpool": be.transaction(work)}


@router.put("/v2.0/subnetpools/{pool_id}")
def update_pool(
    pool_id: str,
    request: Request,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    spec = body.subnetpool

    def work(session: Session) -> dict[str, Any]:
        pool = access.find(session, ctx, models.SubnetPool, pool_id)
        check_revision(request, pool)
        target = {"project_id": pool.project_id}
        policy.enforce(ctx, "update_subnetpool", target)
        if spec.is_default is not None and spec.is_default != pool.is_default:
            policy.enforce(ctx, "update_subnetpool:is_default", target)
        if spec.prefixes is not None:
            version, prefixes = _prefixes(spec.prefixes)
            new = [ipaddress.ip_network(p) for p in prefixes]
            kept = all(
                any(ipaddress.ip_network(old).subnet_of(n) for n in new)  # type: ignore[arg-type]
                for old in pool.prefixes
            )
            if version != pool.ip_version or not kept:
                raise BadRequest(
                    "Illegal update to prefixes: existing prefixes must be retained, and of the "
                    "same IP version.",
                    error_type="IllegalSubnetPoolPrefixUpdate",
                )
            pool.prefixes = prefixes
        apply(pool, spec, "name", "description", "default_prefixlen", "min_prefixlen")
        apply(pool, spec, "max_prefixlen", "is_default", "default_quota")
        _bounds(pool)
        _check_single_default(session, pool)
        pool.touch()
        session.flush()
        return render(pool)

    return {"subnetpool": be.transaction(work)}


@router.delete("/v2.0/subnetpools/{pool_id}", status_code=204)
def delete_pool(
    pool_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> Response:
    def work(session: Session) -> None:
        pool = access.find(session, ctx, models.SubnetPool, pool_id)
        check_revision(request, pool)
        policy.enforce(ctx, "delete_subnetpool", {"project_id": pool.project_id})
        used = session.scalar(
            sa.select(models.Subnet.id).where(models.Subnet.subnetpool_id == pool.id)
        )
        if used is not None:
            raise Conflict(
                f"Unable to complete operation on subnet pool {pool.id}: subnets are allocated "
                f"from it ({used}).",
                error_type="SubnetPoolInUse",
            )
        tags.drop(session, pool.id)
        session.delete(pool)

    be.transaction(work)
    return Response(status_code=204)
