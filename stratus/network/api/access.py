"""Which resources a caller may see, as SQL for lists and as a 404 for one resource.

Admins see everything. Others see their project's resources, plus shared and external
networks, the subnets of shared networks, the ports on networks they own, and shared
subnet pools.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ExecutableOption

from stratus.network import models
from stratus.network.errors import not_found
from stratus.runtime.api.context import RequestContext

M = TypeVar("M", bound=models.Base)


def _own(model: Any, ctx: RequestContext) -> sa.ColumnElement[bool]:
    return model.project_id == (ctx.project_id or "")


def networks(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    return sa.or_(_own(models.Network, ctx), models.Network.shared, models.Network.external)


def subnets(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    shared = sa.select(models.Network.id).where(models.Network.shared)
    return sa.or_(_own(models.Subnet, ctx), models.Subnet.network_id.in_(shared))


def ports(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    owned = sa.select(models.Network.id).where(_own(models.Network, ctx))
    return sa.or_(_own(models.Port, ctx), models.Port.network_id.in_(owned))


def subnetpools(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    return sa.or_(_own(models.SubnetPool, ctx), models.SubnetPool.shared)


def owned(model: Any, ctx: RequestContext) -> sa.ColumnElement[bool]:
    return sa.true() if ctx.is_admin else _own(model, ctx)


VISIBLE = {
    models.Network: networks,
    models.Subnet: subnets,
    models.Port: ports,
    models.SubnetPool: subnetpools,
}
KINDS = {
    models.Network: "Network",
    models.Subnet: "Subnet",
    models.Port: "Port",
    models.SubnetPool: "SubnetPool",
    models.Router: "Router",
    models.FloatingIP: "FloatingIP",
    models.SecurityGroup: "SecurityGroup",
    models.SecurityGroupRule: "SecurityGroupRule",
}


def visible(model: Any, ctx: RequestContext) -> sa.ColumnElement[bool]:
    rule = VISIBLE.get(model)
    return rule(ctx) if rule else owned(model, ctx)


def find(
    session: Session,
    ctx: RequestContext,
    model: type[M],
    resource_id: str,
    options: Sequence[ExecutableOption] = (),
) -> M:
    """The resource (loaded with ``options``), or a 404 when it does not exist or the
    caller may not see it."""
    row = session.scalar(
        sa.select(model)
        .where(model.id == resource_id, visible(model, ctx))  # type: ignore[attr-defined]
        .options(*options)
    )
    if row is None:
        raise not_found(KINDS[model], resource_id)
    return row
