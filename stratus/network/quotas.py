"""Per-project quotas: limits (the ``[quotas]`` defaults unless set for a project) and
what a project uses. Over quota is a 409 typed OverQuota, as Neutron answers."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.options import QUOTA_DEFAULTS
from stratus.runtime.api.errors import Conflict
from stratus.runtime.config import Config

COUNTED: dict[str, type[models.Owned] | type[models.FloatingIP]] = {
    "network": models.Network,
    "subnet": models.Subnet,
    "subnetpool": models.SubnetPool,
    "port": models.Port,
    "router": models.Router,
    "floatingip": models.FloatingIP,
    "security_group": models.SecurityGroup,
    "security_group_rule": models.SecurityGroupRule,
}
RESOURCES = tuple(QUOTA_DEFAULTS)


def defaults(conf: Config) -> dict[str, int]:
    return {name: conf.get("quotas", f"quota_{name}") for name in RESOURCES}


def limits(session: Session, conf: Config, project_id: str) -> dict[str, int]:
    result = defaults(conf)
    for row in session.scalars(
        sa.select(models.Quota).where(models.Quota.project_id == project_id)
    ):
        if row.resource in result:
            result[row.resource] = row.limit
    return result


def used(session: Session, project_id: str, resource: str) -> int:
    model = COUNTED[resource]
    return (
        session.scalar(
            sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)
        )
        or 0
    )


def usage(session: Session, project_id: str) -> dict[str, int]:
    return {name: used(session, project_id, name) for name in RESOURCES}


def check(session: Session, conf: Config, project_id: str, resource: str, adding: int = 1) -> None:
    """A 409 if ``adding`` more of ``resource`` would exceed the project's limit."""
    limit = limits(session, conf, project_id)[resource]
    if limit >= 0 and used(session, project_id, resource) + adding > limit:
        raise Conflict(
            f"Quota exceeded for resources: ['{resource}']. The limit is {limit}.",
            error_type="OverQuota",
        )
