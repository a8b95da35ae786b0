"""``GET /v2/images`` query parameters: filters, which images a caller may list, and
paging, as Glance reads them. Parameters that name no core attribute filter on custom
properties (``?os_distro=debian``)."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.datastructures import QueryParams

from stratus.image.api.fields import MEMBER_STATUSES, STATUSES, VISIBILITIES
from stratus.image.models import Image, ImageMember, ImageProperty, ImageTag
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.pagination import Page, page_params

PAGING = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir"})
SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
DEFAULT_SORT = (("created_at", "desc"), ("id", "desc"))
# Attributes that take ``in:a,b,"c,d"`` as well as a single value.
_IN_FILTERS = ("id", "name", "status", "disk_format", "container_format")
_EXACT_FILTERS = ("owner", "checksum", "os_hash_value")
# Times are shown to the second, so a filter's time stands for that whole second:
# each operator compares the column with the second's start and end.
_TIME_OPERATORS: dict[str, Callable[[Any, datetime, datetime], sa.ColumnElement[bool]]] = {
    "eq": lambda column, start, end: sa.and_(column >= start, column < end),
    "neq": lambda column, start, end: sa.or_(column < start, column >= end),
    "gt": lambda column, start, end: column >= end,
    "gte": lambda column, start, end: column >= start,
    "lt": lambda column, start, end: column < start,
    "lte": lambda column, start, end: column < end,
}
# Core attributes never filter on custom properties, even those not filtered on here.
_CORE = frozenset({*Image.__table__.columns.keys(), "tags", "self", "file", "schema"})
_SPECIAL = frozenset(
    {
        "visibility",
        "member_status",
        "tag",
        "protected",
        "os_hidden",
        "size_min",
        "size_max",
        "created_at",
        "updated_at",
    }
)


def page(query: QueryParams, default_limit: int, max_limit: int) -> Page:
    """Limit, marker and sort order; ``sort`` and ``sort_key``/``sort_dir`` don't mix."""
    if "sort" in query and ("sort_key" in query or "sort_dir" in query):
        raise BadRequest("Use either sort or sort_key/sort_dir, not both.")
    if "sort_dir" in query and "sort_key" not in query:
        # A bare sort_dir orders by the default key.
        query = QueryParams([*query.multi_items(), ("sort_key", DEFAULT_SORT[0][0])])
    result = page_params(
        query,
        sort_keys=SORT_KEYS,
        default_sort=DEFAULT_SORT,
        max_limit=max_limit,
        sort_param="sort",
    )
    if query.get("limit") in (None, ""):
        result = dataclasses.replace(result, limit=min(default_limit, max_limit))
    return result


def conditions(query: QueryParams, ctx: RequestContext) -> list[sa.ColumnElement[bool]]:
    """Everything a listing's rows must satisfy: the caller's access and the filters."""
    visibility = query.get("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise BadRequest(f"visibility must be one of {', '.join(VISIBILITIES)} or all.")
    member_status = query.get("member_status", "accepted")
    if member_status not in (*MEMBER_STATUSES, "all"):
        raise BadRequest(f"member_status must be one of {', '.join(MEMBER_STATUSES)} or all.")
    result = [_access(ctx, visibility, member_status)]
    if visibility not in (None, "all"):
        result.append(Image.visibility == visibility)
    result.append(Image.os_hidden.is_(_boolean(query, "os_hidden", default=False)))
    protected = _boolean(query, "protected", default=None)
    if protected is not None:
        result.append(Image.protected.is_(protected))
    for tag in query.getlist("tag"):
        result.append(sa.exists().where(ImageTag.image_id == Image.id, ImageTag.value == tag))
    for key, compare in (("size_min", Image.size.__ge__), ("size_max", Image.size.__le__)):
        if key in query:
            result.append(compare(_size(query, key)))
    for key in ("created_at", "updated_at"):
        if key in query:
            result.append(_time_filter(getattr(Image, key), key, query[key]))
    for key in _IN_FILTERS:
        if key in query:
            values = _in_values(query[key])
            if key == "status":
                _check_statuses(values)
            result.append(getattr(Image, key).in_(values))
    for key in _EXACT_FILTERS:
        if key in query:
            result.append(getattr(Image, key) == query[key])
    for key, value in query.multi_items():
        if key not in PAGING and key not in _SPECIAL and key not in _CORE:
            result.append(
                sa.exists().where(
                    ImageProperty.image_id == Image.id,
                    ImageProperty.name == key,
                    ImageProperty.value == value,
                )
            )
    return result


def _access(ctx: RequestContext, visibility: str | None, member_status: str) -> Any:
    """The images a caller may list. Others' community images only show when asked for
    by visibility; shared images show to members in the asked member status."""
    owned = Image.owner == ctx.project_id if ctx.project_id else sa.false()
    if ctx.is_admin:
        return sa.or_(Image.visibility != "community", owned) if visibility is None else sa.true()
    everyone = Image.visibility.in_(("public",) if visibility is None else ("public", "community"))
    if ctx.project_id is None:
        return everyone
    membership = [ImageMember.image_id == Image.id, ImageMember.member == ctx.project_id]
    if member_status != "all":
        membership.append(ImageMember.status == member_status)
    shared = sa.and_(Image.visibility == "shared", sa.exists().where(*membership))
    return sa.or_(owned, everyone, shared)


def _boolean(query: QueryParams, key: str, default: bool | None) -> bool | None:
    raw = query.get(key)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise BadRequest(f"{key} must be true or false, not {raw!r}.")
    return lowered == "true"


def _size(query: QueryParams, key: str) -> int:
    try:
        value = int(query[key])
    except ValueError:
        value = -1
    if value < 0:
        raise BadRequest(f"{key} must be a non-negative integer, not {query[key]!r}.")
    return value


def _time_filter(column: Any, key: str, raw: str) -> sa.ColumnElement[bool]:
    """``gt:2016-04-18T21:38:54Z`` and the like; a bare time means ``eq``."""
    operator, _, moment = raw.partition(":")
    if operator not in _TIME_OPERATORS:
        operator, moment = "eq", raw
    try:
        when = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"{key} must be an ISO 8601 time, optionally after one of "
            f"{', '.join(_TIME_OPERATORS)} and a colon; not {raw!r}."
        ) from exc
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    start = when.replace(microsecond=0)
    return _TIME_OPERATORS[operator](column, start, start + timedelta(seconds=1))


def _in_values(raw: str) -> list[str]:
    """``in:a,"b,c"`` is a list (quotes protect commas); anything else one value."""
    if not raw.startswith("in:"):
        return [raw]
    try:
        values = next(csv.reader([raw[3:]], skipinitialspace=True))
    except (csv.Error, StopIteration) as exc:
        raise BadRequest(f"Cannot read the list in {raw!r}.") from exc
    return values


def _check_statuses(values: list[str]) -> None:
    for value in values:
        if value not in STATUSES:
            raise BadRequest(f"Image status {value!r} is not one of {', '.join(STATUSES)}.")
