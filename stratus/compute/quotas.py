"""Quotas: each project's limits (configured defaults, overridden per project) and what
it uses, counted from the resources themselves, so that usage can never drift."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.compute import options  # noqa: F401 - declares the [quota] options
from stratus.compute.models import Instance, KeyPair, Quota, ServerGroup, ServerGroupMember
from stratus.runtime.config import Config

RESOURCES = (
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_length",
)
UNLIMITED = -1


def defaults(conf: Config) -> dict[str, int]:
    return {name: conf.get("quota", name) for name in RESOURCES}


def limits(session: Session, conf: Config, project_id: str) -> dict[str, int]:
    values = defaults(conf)
    for row in session.scalars(sa.select(Quota).where(Quota.project_id == project_id)):
        values[row.resource] = row.hard_limit
    return values


def usage(session: Session, project_id: str) -> dict[str, int]:
    """What the project holds of the resources that are counted per project."""
    live = sa.and_(Instance.project_id == project_id, Instance.deleted.is_(False))
    instances = session.scalars(sa.select(Instance.flavor).where(live)).all()
    groups = session.scalar(
        sa.select(sa.func.count())
        .select_from(ServerGroup)
        .where(ServerGroup.project_id == project_id)
    )
    return {
        "instances": len(instances),
        "cores": sum(flavor["vcpus"] for flavor in instances),
        "ram": sum(flavor["memory_mb"] for flavor in instances),
        "server_groups": groups or 0,
    }


def key_pairs_of(session: Session, user_id: str) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)
        )
        or 0
    )


def group_members(session: Session, group_id: str) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ServerGroupMember)
            .where(ServerGroupMember.group_id == group_id)
        )
        or 0
    )


class Exceeded(Exception):
    """A request would take a project over its limits (what Nova answers with a 403)."""

    def __init__(self, resource: str, requested: int, used: int, limit: int) -> None:
        super().__init__(
            f"Quota exceeded for {resource}: Requested {requested}, but already "
            f"used {used} of {limit} {resource}"
        )
        self.resource = resource


def check(limit: int, used: int, requested: int, resource: str) -> None:
    if limit != UNLIMITED and used + requested > limit:
        raise Exceeded(resource, requested, used, limit)


def check_servers(
    session: Session, conf: Config, project_id: str, count: int, vcpus: int, ram: int
) -> None:
    """Whether ``count`` more servers of a flavor fit the project's quota."""
    held = usage(session, project_id)
    limit = limits(session, conf, project_id)
    check(limit["instances"], held["instances"], count, "instances")
    check(limit["cores"], held["cores"], count * vcpus, "cores")
    check(limit["ram"], held["ram"], count * ram, "ram")
