"""Listing servers: the filters Nova takes (what a non-admin may use, and the rest for
admins), sorting and paging by marker."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from starlette.datastructures import QueryParams

from stratus.compute import states
from stratus.compute.api import server_views
from stratus.compute.api.common import (
    Backend,
    at_least,
    check_query,
    next_link,
    parse_time,
    query_bool,
    transaction,
)
from stratus.compute.models import Instance, InstanceTag
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Forbidden
from stratus.runtime.api.pagination import page_params, paginate

# Query parameters any caller may use, and the microversion that brought each.
USER_FILTERS = {
    "name": "2.1",
    "status": "2.1",
    "image": "2.1",
    "flavor": "2.1",
    "ip": "2.1",
    "ip6": "2.5",
    "changes-since": "2.1",
    "changes-before": "2.66",
    "reservation_id": "2.1",
    "tags": "2.26",
    "tags-any": "2.26",
    "not-tags": "2.26",
    "not-tags-any": "2.26",
    "locked": "2.73",
}
ADMIN_FILTERS = {
    "all_tenants",
    "project_id",
    "tenant_id",
    "user_id",
    "host",
    "node",
    "deleted",
    "availability_zone",
    "key_name",
    "vm_state",
    "task_state",
    "power_state",
    "hostname",
    "uuid",
}
PAGING = {"limit", "marker", "sort_key", "sort_dir"}
# Parameters Nova's schema knows but ignores here (cells, volumes, metadata service).
IGNORED = {
    "access_ip_v4", "access_ip_v6", "auto_disk_config", "block_device_mapping", "config_drive",
    "created_at", "description", "display_description", "display_name", "ephemeral_gb",
    "image_ref", "instance_type_id", "kernel_id", "launch_index", "launched_at",
    "terminated_at", "os_type", "progress", "ramdisk_id", "root_device_name",
    "root_gb", "memory_mb", "vcpus", "architecture", "cell_name", "default_ephemeral_device",
    "default_swap_device", "info_cache", "key_data", "launched_on", "locked_by",
    "metadata", "pci_devices", "security_groups", "shutdown_terminate", "system_metadata",
    "vm_mode", "updated_at", "user_data", "all_projects", "soft_deleted", "sort",
}  # fmt: skip
SORT_KEYS = (
    "access_ip_v4", "access_ip_v6", "availability_zone", "created_at", "display_description",
    "display_name", "host", "hostname", "image_ref", "key_name", "launch_index", "launched_at",
    "locked", "node", "power_state", "project_id", "reservation_id", "task_state",
    "terminated_at", "updated_at", "user_id", "uuid", "vm_state",
)  # fmt: skip
ADMIN_SORT_KEYS = {"host", "node"}


def _allowed(request: Request) -> set[str]:
    """What the negotiated version's schema takes (admin filters are ignored for others)."""
    names = {k for k, since in USER_FILTERS.items() if at_least(request, since)}
    return names | PAGING | ADMIN_FILTERS | IGNORED


def list_servers(
    request: Request, ctx: RequestContext, api: Backend, *, detail: bool
) -> dict[str, Any]:
    query = request.query_params
    admin = api.policy.check(ctx, "servers:all_projects")
    if at_least(request, "2.75"):
        check_query(query, _allowed(request))
    stmt = _filtered(request, query, ctx, admin)
    page = page_params(
        query,
        sort_keys=SORT_KEYS if admin else tuple(k for k in SORT_KEYS if k not in ADMIN_SORT_KEYS),
        default_sort=[("created_at", "desc")],
        max_limit=api.max_limit,
    )
    ip_patterns = [query[k] for k in ("ip", "ip6") if query.get(k) and k in _allowed(request)]
    with transaction(request) as session:
        if ip_patterns:
            rows = [
                r for r in session.scalars(_ordered(stmt, page.sort)) if _ip_match(r, ip_patterns)
            ]
            rows, marker = _page_in_memory(rows, page.marker, page.limit)
        else:
            rows, marker = paginate(session, stmt, Instance, page, id_column="uuid")
        if detail:
            extras = server_views.Extras.load(request, session, rows)
            servers = [server_views.show(request, r, ctx, extras) for r in rows]
        else:
            servers = [server_views.summary(request, r) for r in rows]
    body: dict[str, Any] = {"servers": servers}
    if marker:
        body["servers_links"] = next_link(
            request, "servers/detail" if detail else "servers", marker
        )
    return body


def _filtered(request: Request, query: QueryParams, ctx: RequestContext, admin: bool) -> sa.Select:
    stmt = sa.select(Instance)
    everyone = False
    if "all_tenants" in query:
        everyone = query["all_tenants"] == "" or query_bool("all_tenants", query["all_tenants"])
        if everyone and not admin:
            raise Forbidden("Policy does not allow listing the servers of every project.")
    project = query.get("project_id") or query.get("tenant_id") if admin else None
    if project:
        stmt = stmt.where(Instance.project_id == project)
    elif not everyone:
        stmt = stmt.where(Instance.project_id == (ctx.project_id or ""))
    since = _time(query, "changes-since")
    before = _time(query, "changes-before") if at_least(request, "2.66") else None
    if since and before and since > before:
        raise BadRequest("The value of changes-since must be less than or equal to changes-before.")
    deleted = admin and "deleted" in query and query_bool("deleted", query["deleted"])
    if deleted:
        stmt = stmt.where(Instance.deleted.is_(True))
    elif since is None and before is None:
        stmt = stmt.where(Instance.deleted.is_(False))
    if since is not None:
        stmt = stmt.where(sa.func.coalesce(Instance.updated_at, Instance.created_at) >= since)
    if before is not None:
        stmt = stmt.where(sa.func.coalesce(Instance.updated_at, Instance.created_at) <= before)
    if query.get("name"):
        _check_regex(query["name"])
        stmt = stmt.where(Instance.display_name.regexp_match(query["name"]))
    if "status" in query:
        stmt = _status(request, stmt, query.getlist("status"))
    if query.get("image"):
        stmt = stmt.where(Instance.image_ref == query["image"].rstrip("/").rsplit("/", 1)[-1])
    if query.get("flavor"):
        flavor = query["flavor"].rstrip("/").rsplit("/", 1)[-1]
        stmt = stmt.where(Instance.flavor["id"].as_string() == flavor)
    if query.get("reservation_id"):
        stmt = stmt.where(Instance.reservation_id == query["reservation_id"])
    if at_least(request, "2.73") and "locked" in query:
        stmt = stmt.where(Instance.locked.is_(query_bool("locked", query["locked"])))
    if at_least(request, "2.26"):
        stmt = _tags(stmt, query)
    if admin:
        for key, column in (
            ("user_id", Instance.user_id),
            ("host", Instance.host),
            ("node", Instance.node),
            ("availability_zone", Instance.availability_zone),
            ("key_name", Instance.key_name),
            ("vm_state", Instance.vm_state),
            ("task_state", Instance.task_state),
            ("hostname", Instance.hostname),
            ("uuid", Instance.uuid),
        ):
            if query.get(key):
                stmt = stmt.where(column == query[key])
        if query.get("power_state", "").isdigit():
            stmt = stmt.where(Instance.power_state == int(query["power_state"]))
    return stmt


def _time(query: QueryParams, name: str) -> Any:
    return parse_time(name, query[name]) if query.get(name) else None


def _check_regex(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise BadRequest(f"Invalid name filter {pattern!r}: {exc}.") from exc


def _status(request: Request, stmt: sa.Select, statuses: list[str]) -> sa.Select:
    wanted = [s for raw in statuses for s in raw.split(",") if s]
    unknown = [s for s in wanted if s.upper() not in states.STATUSES]
    if unknown and at_least(request, "2.38"):
        raise BadRequest(f"Invalid status value: {unknown[0]}")
    queries = states.status_queries(wanted)
    if not queries:
        return stmt.where(sa.false())
    clauses = []
    for q in queries:
        if q.task_states is None:
            changing = states.status_changing_tasks(q.vm_state)
            task = sa.or_(Instance.task_state.is_(None), Instance.task_state.not_in(changing))
        else:
            task = Instance.task_state.in_(q.task_states)
        clauses.append(sa.and_(Instance.vm_state == q.vm_state, task))
    return stmt.where(sa.or_(*clauses))


def _tags(stmt: sa.Select, query: QueryParams) -> sa.Select:
    def tags(name: str) -> list[str]:
        return [t for t in query.get(name, "").split(",") if t]

    has = lambda tag: Instance.tags.any(InstanceTag.tag == tag)  # noqa: E731
    for tag in tags("tags"):
        stmt = stmt.where(has(tag))
    if tags("tags-any"):
        stmt = stmt.where(sa.or_(*(has(t) for t in tags("tags-any"))))
    if tags("not-tags"):
        stmt = stmt.where(sa.not_(sa.and_(*(has(t) for t in tags("not-tags")))))
    for tag in tags("not-tags-any"):
        stmt = stmt.where(sa.not_(has(tag)))
    return stmt


def _ordered(stmt: sa.Select, sort: tuple[tuple[str, str], ...]) -> sa.Select:
    for key, direction in (*sort, ("uuid", sort[-1][1] if sort else "asc")):
        column = getattr(Instance, key)
        stmt = stmt.order_by(column.asc() if direction == "asc" else column.desc())
    return stmt


def _ip_match(instance: Instance, patterns: list[str]) -> bool:
    addresses = [
        ip["ip_address"] for vif in instance.network_info or [] for ip in vif.get("fixed_ips", [])
    ]
    return all(any(re.search(p, a) for a in addresses) for p in patterns)


def _page_in_memory(
    rows: list[Instance], marker: str | None, limit: int | None
) -> tuple[list[Instance], str | None]:
    if marker is not None:
        index = next((i for i, r in enumerate(rows) if r.uuid == marker), None)
        if index is None:
            raise BadRequest(f"marker [{marker}] not found")
        rows = rows[index + 1 :]
    if limit is not None and len(rows) > limit:
        return rows[:limit], rows[limit - 1].uuid if limit else None
    return rows, None
