"""What every network handler shares: the backend, request bodies, list queries
(filters, ``fields``, tag filters, paging with ``<collection>_links``) and the standard
attributes every resource renders."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.backend import Backend
from stratus.network.errors import PreconditionFailed
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.pagination import Page, page_params, paginate

Filter = Callable[[list[str]], sa.ColumnElement[bool]]
PAGING = frozenset({"limit", "marker", "sort_key", "sort_dir", "page_reverse", "fields"})
TAG_FILTERS = frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})
DEFAULT_SORT_KEYS = ("id", "name", "created_at", "updated_at", "project_id")
NAME_LENGTH = 255


def backend(request: Request) -> Backend:
    """The network service behind this app."""
    return request.app.state.backend


class Body(BaseModel):
    """A request body's resource: unknown attributes are a 400, as in Neutron."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def given(self, *names: str) -> dict[str, Any]:
        """The named attributes the request set, by their wire names."""
        fields = type(self).model_fields
        return {
            fields[name].alias or name: getattr(self, name)
            for name in names
            if name in self.model_fields_set
        }


class OwnedBody(Body):
    name: str = Field("", max_length=NAME_LENGTH)
    description: str = Field("", max_length=NAME_LENGTH)
    project_id: str | None = Field(None, max_length=models.PROJECT_ID)
    tenant_id: str | None = Field(None, max_length=models.PROJECT_ID)

    def owner(self, ctx: RequestContext) -> str:
        """The project the new resource belongs to: the one named, else the caller's."""
        if self.project_id and self.tenant_id and self.project_id != self.tenant_id:
            raise BadRequest("project_id and tenant_id do not match.", error_type="InvalidInput")
        project = self.project_id or self.tenant_id or ctx.project_id
        if not project:
            raise BadRequest(
                "A project-scoped token or a project_id is needed to create this resource.",
                error_type="InvalidInput",
            )
        return project


class UpdateBody(Body):
    name: str | None = Field(None, max_length=NAME_LENGTH)
    description: str | None = Field(None, max_length=NAME_LENGTH)


def apply(row: Any, body: Body, *names: str) -> None:
    """Copy the attributes a request set (and that are not null) onto a row."""
    for name in names:
        value = getattr(body, name)
        if name in body.model_fields_set and value is not None:
            setattr(row, name, value)


def render_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def standard(row: models.StandardAttrs) -> dict[str, Any]:
    return {
        "id": row.id,
        "description": row.description,
        "created_at": render_time(row.created_at),
        "updated_at": render_time(row.updated_at),
        "revision_number": row.revision_number,
        "tags": [t.tag for t in row.tags],
    }


def owned(row: models.Owned | models.FloatingIP) -> dict[str, Any]:
    return {"project_id": row.project_id, "tenant_id": row.project_id, **standard(row)}


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise BadRequest(f"'{value}' is not a boolean.", error_type="InvalidInput")


def integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"'{value}' is not an integer.", error_type="InvalidInput") from None


def match(column: Any, convert: Callable[[str], Any] = str) -> Filter:
    """A filter of one column: equal to the value, or to any of repeated values."""

    def clause(values: list[str]) -> sa.ColumnElement[bool]:
        converted = [convert(v) for v in values]
        return column == converted[0] if len(converted) == 1 else column.in_(converted)

    return clause


def timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{value}' is not an ISO 8601 time.", error_type="InvalidInput") from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def standard_filters(model: Any) -> dict[str, Filter]:
    filters: dict[str, Filter] = {
        "id": match(model.id),
        "description": match(model.description),
        "revision_number": match(model.revision_number, integer),
        "changed_since": lambda values: model.updated_at >= max(timestamp(v) for v in values),
    }
    if hasattr(model, "project_id"):
        filters["project_id"] = filters["tenant_id"] = match(model.project_id)
    if hasattr(model, "name"):
        filters["name"] = match(model.name)
    return filters


@dataclasses.dataclass(frozen=True)
class ListQuery:
    clauses: list[sa.ColumnElement[bool]]
    page: Page
    reverse: bool
    fields: list[str]


def list_query(
    request: Request,
    model: Any,
    filters: dict[str, Filter],
    sort_keys: Sequence[str] = DEFAULT_SORT_KEYS,
) -> ListQuery:
    """Read a list request's query: every parameter that is not paging or ``fields`` must
    be a filter the resource knows (a 400 otherwise, as Neutron's filter validation)."""
    params = request.query_params
    clauses = []
    for key in dict.fromkeys(params.keys()):
        values = params.getlist(key)
        if key in PAGING:
            continue
        if key in TAG_FILTERS:
            clauses.append(_tag_filter(model, key, values))
        elif key in filters:
            clauses.append(filters[key](values))
        else:
            raise BadRequest(
                f"[{key}] is invalid attribute for filtering.", error_type="HTTPBadRequest"
            )
    max_limit = request.app.state.backend.conf.network.pagination_max_limit
    page = page_params(
        params, sort_keys=sort_keys, default_sort=[("id", "asc")], max_limit=max_limit
    )
    reverse = boolean(params.get("page_reverse", "false"))
    if reverse:
        flipped = tuple((k, "asc" if d == "desc" else "desc") for k, d in page.sort)
        page = dataclasses.replace(page, sort=flipped)
    return ListQuery(clauses, page, reverse, fields_of(request))


def _tag_filter(model: Any, key: str, values: list[str]) -> sa.ColumnElement[bool]:
    wanted = [t for v in values for t in v.split(",") if t]

    def has(tag_list: list[str]) -> sa.ColumnElement[bool]:
        return sa.exists().where(models.Tag.resource_id == model.id, models.Tag.tag.in_(tag_list))

    if key in ("tags", "not-tags"):
        every = sa.and_(*(has([t]) for t in wanted))
        return every if key == "tags" else sa.not_(every)
    return has(wanted) if key == "tags-any" else sa.not_(has(wanted))


def list_rows(
    session: Session,
    request: Request,
    stmt: sa.Select,
    model: Any,
    query: ListQuery,
    collection: str,
) -> tuple[list[Any], list[dict[str, str]]]:
    """One page of rows and the ``<collection>_links`` to the pages around it."""
    rows, next_marker = paginate(session, stmt.where(*query.clauses), model, query.page)
    more = next_marker is not None
    if query.reverse:
        rows.reverse()
    forward, backward = (
        (bool(query.page.marker), more) if query.reverse else (more, bool(query.page.marker))
    )
    links = []
    if rows and forward:
        links.append({"rel": "next", "href": _page_url(request, rows[-1].id, reverse=False)})
    if rows and backward:
        links.append({"rel": "previous", "href": _page_url(request, rows[0].id, reverse=True)})
    return rows, links


def _page_url(request: Request, marker: str, reverse: bool) -> str:
    url = request.url.remove_query_params(["marker", "page_reverse"])
    params = {"marker": marker, **({"page_reverse": "True"} if reverse else {})}
    return str(url.include_query_params(**params))


def collection(
    name: str, items: list[dict[str, Any]], links: list[dict[str, str]], fields: list[str]
) -> dict[str, Any]:
    body: dict[str, Any] = {name: [select_fields(item, fields) for item in items]}
    if links:
        body[f"{name}_links"] = links
    return body


def select_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return item
    return {key: value for key, value in item.items() if key in fields}


def fields_of(request: Request) -> list[str]:
    return [f for raw in request.query_params.getlist("fields") for f in raw.split(",") if f]


def check_revision(request: Request, row: models.StandardAttrs) -> None:
    """Honour ``If-Match: revision_number=N``: a 412 if the resource moved on."""
    header = request.headers.get("if-match")
    if not header:
        return
    for condition in header.split(","):
        key, _, value = condition.strip().partition("=")
        if key == "revision_number" and value.strip() != str(row.revision_number):
            raise PreconditionFailed(
                f"Constraint revision_number={value.strip()} not met: the revision is "
                f"{row.revision_number}.",
                error_type="RevisionNumberConstraintFailed",
            )
