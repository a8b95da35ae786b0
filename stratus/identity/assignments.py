"""Who holds which roles where: direct grants and grants through group membership."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.identity.models import (
    GROUP,
    USER,
    Assignment,
    Membership,
    Role,
)
from stratus.runtime.api.context import ROLE_IMPLICATIONS


def _held_by(user_id: str) -> sa.ColumnElement[bool]:
    """Assignments that apply to the user: to the user, or to a group the user is in."""
    groups = sa.select(Membership.group_id).where(Membership.user_id == user_id)
    return sa.or_(
        sa.and_(Assignment.actor_type == USER, Assignment.actor_id == user_id),
        sa.and_(Assignment.actor_type == GROUP, Assignment.actor_id.in_(groups)),
    )


def role_ids_on(session: Session, user_id: str, target_id: str) -> set[str]:
    """The ids of the roles the user holds on a project or domain, directly or by group."""
    stmt = sa.select(Assignment.role_id).where(_held_by(user_id), Assignment.target_id == target_id)
    return set(session.scalars(stmt))


def target_ids(session: Session, user_id: str, target_type: str) -> set[str]:
    """The projects (or domains) on which the user holds any role."""
    stmt = sa.select(Assignment.target_id).where(
        _held_by(user_id), Assignment.target_type == target_type
    )
    return set(session.scalars(stmt))


def with_implied(session: Session, role_ids: Iterable[str]) -> list[Role]:
    """The roles, plus the ones they imply (admin implies member, member implies reader),
    sorted by name: what a token grants."""
    ids = set(role_ids)
    if not ids:
        return []
    roles = list(session.scalars(sa.select(Role).where(Role.id.in_(ids))))
    implied = {name for role in roles for name in ROLE_IMPLICATIONS.get(role.name, ())}
    if implied:
        stmt = sa.select(Role).where(Role.name.in_(implied), Role.id.not_in(ids))
        roles.extend(session.scalars(stmt))
    return sorted(roles, key=lambda role: role.name)


def forget(session: Session, *ids: str) -> None:
    """Remove every grant to or on the given users, groups, projects or domains."""
    session.execute(
        sa.delete(Assignment).where(
            sa.or_(Assignment.actor_id.in_(ids), Assignment.target_id.in_(ids))
        )
    )
