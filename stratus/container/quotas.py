"""Project quotas: limits (admin-set rows over the configured defaults) and usage."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.container import states
from stratus.container.models import Container, Quota
from stratus.runtime.api.errors import OverLimit

RESOURCES = ("containers", "cpu", "memory")


def defaults(conf_section: object) -> dict[str, float]:
    return {r: getattr(conf_section, f"quota_{r}") for r in RESOURCES}


def limits(session: Session, project_id: str, default: dict[str, float]) -> dict[str, float]:
    rows = session.scalars(sa.select(Quota).where(Quota.project_id == project_id))
    return {**default, **{row.resource: row.hard_limit for row in rows}}


def usage(session: Session, project_id: str) -> dict[str, float]:
    containers, cpu, memory = session.execute(
        sa.select(
            sa.func.count(Container.uuid),
            sa.func.coalesce(sa.func.sum(Container.cpu), 0),
            sa.func.coalesce(sa.func.sum(Container.memory), 0),
        ).where(Container.project_id == project_id, Container.status.in_(states.HOLDING))
    ).one()
    return {"containers": containers, "cpu": float(cpu), "memory": memory}


def check(
    session: Session, project_id: str, default: dict[str, float], asked: dict[str, float]
) -> None:
    """Raise OverLimit (413) if ``asked`` on top of the project's usage passes a limit.

    A negative limit means unlimited, as in OpenStack.
    """
    limit = limits(session, project_id, default)
    used = usage(session, project_id)
    for resource, amount in asked.items():
        if 0 <= limit[resource] < used[resource] + amount:
            raise OverLimit(
                f"Quota exceeded for {resource}: asked {amount:g}, "
                f"{used[resource]:g} of {limit[resource]:g} in use."
            )


def set_limits(session: Session, project_id: str, values: dict[str, float]) -> None:
    for resource, value in values.items():
        row = session.get(Quota, (project_id, resource))
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, hard_limit=value))
        else:
            row.hard_limit = value


def delete_limits(session: Session, project_id: str) -> None:
    session.execute(sa.delete(Quota).where(Quota.project_id == project_id))
