"""``limit``/``marker`` paging with ``sort_key``/``sort_dir``, as the OpenStack APIs do it.

Paging is by keyset: the marker's row gives the values to continue after, so pages are
stable while rows are added, and no offset is ever scanned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.runtime.api.errors import BadRequest


@dataclass(frozen=True)
class Page:
    limit: int | None
    marker: str | None
    sort: tuple[tuple[str, str], ...]


def page_params(
    query: Mapping[str, Any],
    *,
    sort_keys: Sequence[str],
    default_sort: Sequence[tuple[str, str]],
    max_limit: int = 1000,
    sort_param: str | None = None,
) -> Page:
    """Read and check ``limit``, ``marker``, ``sort_key``/``sort_dir`` (or Glance's
    ``sort=key:dir,...`` when ``sort_param`` names it) from a query mapping that may hold
    repeated keys (a Starlette ``QueryParams``)."""
    limit: int | None = None
    if query.get("limit") not in (None, ""):
        try:
            limit = int(query["limit"])
        except ValueError as exc:
            raise BadRequest(f"limit must be an integer, not {query['limit']!r}.") from exc
        if limit < 0:
            raise BadRequest("limit must be zero or a positive integer.")
        limit = min(limit, max_limit)
    else:
        limit = max_limit
    getlist = getattr(query, "getlist", lambda key: [query[key]] if key in query else [])
    if sort_param and query.get(sort_param):
        pairs = []
        for item in ",".join(getlist(sort_param)).split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
    else:
        keys = [k for raw in getlist("sort_key") for k in raw.split(",") if k]
        dirs = [d for raw in getlist("sort_dir") for d in raw.split(",") if d]
        if len(dirs) > len(keys) and keys:
            raise BadRequest("There are more sort_dir values than sort_key values.")
        default_dir = dirs[0] if dirs and len(dirs) == 1 else "desc"
        pairs = [(key, dirs[i] if i < len(dirs) else default_dir) for i, key in enumerate(keys)]
    for key, direction in pairs:
        if key not in sort_keys:
            raise BadRequest(
                f"Sort key {key!r} is not supported; use one of {', '.join(sort_keys)}."
            )
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Sort direction {direction!r} is not 'asc' or 'desc'.")
    marker = query.get("marker") or None
    return Page(limit=limit, marker=marker, sort=tuple(pairs) or tuple(default_sort))


def paginate(
    session: Session,
    stmt: sa.Select,
    model: type,
    page: Page,
    *,
    id_column: str = "id",
    marker_column: str | None = None,
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` for one page; returns the rows and the marker for the next page (or
    None when this is the last one). An unknown marker is a 400, as the APIs answer.
    Markers are ``id_column`` values (the primary key), or ``marker_column`` values when
    the API names rows by another unique column."""
    sort = list(page.sort)
    if id_column not in [key for key, _ in sort]:
        sort.append((id_column, sort[-1][1] if sort else "asc"))
    marker_key = marker_column or id_column
    if page.marker is not None:
        if marker_column is None:
            marker_row = session.get(model, page.marker)
        else:
            column = getattr(model, marker_column)
            marker_row = session.scalar(sa.select(model).where(column == page.marker))
        if marker_row is None:
            raise BadRequest(f"Marker {page.marker} could not be found.")
        stmt = stmt.where(_after(model, sort, marker_row))
    for key, direction in sort:
        column = getattr(model, key)
        nulls_low = sa.case((column.is_(None), 0), else_=1)
        if direction == "asc":
            stmt = stmt.order_by(nulls_low.asc(), column.asc())
        else:
            stmt = stmt.order_by(nulls_low.desc(), column.desc())
    if page.limit is not None:
        stmt = stmt.limit(page.limit + 1)
    rows = list(session.scalars(stmt))
    if page.limit is not None and len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, getattr(rows[-1], marker_key) if rows else None
    return rows, None


def _after(model: type, sort: list[tuple[str, str]], marker: Any) -> sa.ColumnElement[bool]:
    """Rows strictly after the marker in the sort order (NULLs lowest, on every database)."""
    clauses = []
    for i, (key, direction) in enumerate(sort):
        equal_before = [_equal(getattr(model, k), getattr(marker, k)) for k, _ in sort[:i]]
        column, value = getattr(model, key), getattr(marker, key)
        clauses.append(sa.and_(*equal_before, _beyond(column, value, direction)))
    return sa.or_(*clauses)


def _equal(column: Any, value: Any) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _beyond(column: Any, value: Any, direction: str) -> sa.ColumnElement[bool]:
    if value is None:
        return column.is_not(None) if direction == "asc" else sa.false()
    if direction == "asc":
        return column > value
    return sa.or_(column < value, column.is_(None))
