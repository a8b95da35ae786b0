"""``GET /v3/role_assignments``: every grant, filtered as openstackclient asks; with
``effective``, grants to groups appear as grants to each of their members."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from stratus.identity.api.common import collection, query_bool, transaction, url
from stratus.identity.api.policy import enforce
from stratus.identity.api.roles import grant_path
from stratus.identity.models import (
    DOMAIN,
    GROUP,
    PROJECT,
    USER,
    Assignment,
    Domain,
    Group,
    Membership,
    Project,
    Role,
    User,
)
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import ROLE_IMPLICATIONS, RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.routing import Router

router = Router(tags=["roles"])


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    return raw is not None and query_bool(name, raw)


@router.get("/v3/role_assignments", summary="List role assignments")
def list_role_assignments(
    request: Request, ctx: RequestContext = Depends(authenticated)
) -> dict[str, Any]:
    query = request.query_params
    user_id, group_id = query.get("user.id"), query.get("group.id")
    project_id, domain_id = query.get("scope.project.id"), query.get("scope.domain.id")
    effective = _flag(request, "effective")
    enforce(ctx, "list_role_assignments", user_id=user_id)
    if user_id and group_id:
        raise BadRequest("Filter by user.id or by group.id, not both.")
    if project_id and domain_id:
        raise BadRequest("Filter by scope.project.id or by scope.domain.id, not both.")
    if effective and group_id:
        raise BadRequest("effective cannot be combined with group.id.")
    role_id = query.get("role.id")
    filters: list[sa.ColumnElement[bool]] = []
    if role_id and not effective:  # with effective, implied roles count: filter after
        filters.append(Assignment.role_id == role_id)
    if project_id:
        filters += [Assignment.target_type == PROJECT, Assignment.target_id == project_id]
    if domain_id:
        filters += [Assignment.target_type == DOMAIN, Assignment.target_id == domain_id]
    if query.get("scope.system") or query.get("scope.OS-INHERIT:inherited_to"):
        filters.append(sa.false())  # no system-scoped or inherited grants here
    if group_id:
        filters += [Assignment.actor_type == GROUP, Assignment.actor_id == group_id]
    with transaction(request) as session:
        rows = _rows(session, filters, user_id, effective)
        items = [_entry(request, a, member) for a, member in rows]
        if effective:
            items = _with_implied(request, session, items)
            items = [i for i in items if not role_id or i["role"]["id"] == role_id]
        if _flag(request, "include_names"):
            _add_names(session, items)
    return collection(request, "role_assignments", items)


def _rows(
    session: Session, filters: list[sa.ColumnElement[bool]], user_id: str | None, effective: bool
) -> list[tuple[Assignment, str | None]]:
    """The matching grants, each with the member it applies to when it was expanded
    from a group (``effective``)."""
    groups_of_user = sa.select(Membership.group_id).where(Membership.user_id == user_id)
    direct = sa.and_(Assignment.actor_type == USER, Assignment.actor_id == user_id)
    if user_id and effective:
        filters.append(
            sa.or_(
                direct,
                sa.and_(Assignment.actor_type == GROUP, Assignment.actor_id.in_(groups_of_user)),
            )
        )
    elif user_id:
        filters.append(direct)
    stmt = (
        sa.select(Assignment)
        .where(*filters)
        .order_by(Assignment.target_id, Assignment.actor_id, Assignment.role_id)
    )
    assignments = list(session.scalars(stmt))
    if not effective:
        return [(a, None) for a in assignments]
    group_ids = {a.actor_id for a in assignments if a.actor_type == GROUP}
    members: dict[str, list[str]] = {}
    member_stmt = sa.select(Membership).where(Membership.group_id.in_(group_ids))
    if user_id:
        member_stmt = member_stmt.where(Membership.user_id == user_id)
    for membership in session.scalars(member_stmt):
        members.setdefault(membership.group_id, []).append(membership.user_id)
    rows: list[tuple[Assignment, str | None]] = []
    for a in assignments:
        if a.actor_type == USER:
            rows.append((a, None))
        else:
            rows.extend((a, member) for member in sorted(members.get(a.actor_id, [])))
    return rows


def _entry(request: Request, a: Assignment, member: str | None) -> dict[str, Any]:
    path = grant_path(a.target_type, a.target_id, a.actor_type, a.actor_id)
    entry: dict[str, Any] = {
        "role": {"id": a.role_id},
        "scope": {a.target_type: {"id": a.target_id}},
        "links": {"assignment": url(request, path, a.role_id)},
    }
    if member is not None:
        entry["user"] = {"id": member}
        entry["links"]["membership"] = url(request, "groups", a.actor_id, "users", member)
    else:
        entry[a.actor_type] = {"id": a.actor_id}
    return entry


def _with_implied(
    request: Request, session: Session, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each assignment followed by the roles its role implies (admin: member and reader),
    which link to the role that implied them, as Keystone lists effective assignments."""
    ids = {r.name: r.id for r in session.scalars(sa.select(Role))}
    names = {role_id: name for name, role_id in ids.items()}
    expanded = []
    for item in items:
        expanded.append(item)
        prior = item["role"]["id"]
        for implied in ROLE_IMPLICATIONS.get(names.get(prior, ""), ()):
            if implied in ids:
                prior_link = {"prior_role": url(request, "roles", prior)}
                links = {**item["links"], **prior_link}
                expanded.append({**item, "role": {"id": ids[implied]}, "links": links})
    return expanded


def _add_names(session: Session, items: list[dict[str, Any]]) -> None:
    """Replace each ``{"id": ...}`` with its id, name and (for users, groups and projects)
    domain, as ``include_names`` asks."""
    domains = {d.id: d.name for d in session.scalars(sa.select(Domain))}
    roles = {r.id: {"id": r.id, "name": r.name} for r in session.scalars(sa.select(Role))}

    def owned(model: type[User | Group | Project], ids: set[str]) -> dict[str, Any]:
        rows = session.scalars(sa.select(model).where(model.id.in_(ids)))
        return {
            r.id: {
                "id": r.id,
                "name": r.name,
                "domain": {"id": r.domain_id, "name": domains.get(r.domain_id, "")},
            }
            for r in rows
        }

    users = owned(User, {i["user"]["id"] for i in items if "user" in i})
    groups = owned(Group, {i["group"]["id"] for i in items if "group" in i})
    projects = owned(
        Project, {i["scope"]["project"]["id"] for i in items if "project" in i["scope"]}
    )
    for item in items:
        item["role"] = roles.get(item["role"]["id"], item["role"])
        for key, found in (("user", users), ("group", groups)):
            if key in item:
                item[key] = found.get(item[key]["id"], item[key])
        scope = item["scope"]
        if "project" in scope:
            scope["project"] = projects.get(scope["project"]["id"], scope["project"])
        else:
            scope["domain"]["name"] = domains.get(scope["domain"]["id"], "")
