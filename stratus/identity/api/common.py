"""What every identity router shares: the service state, links, lists, lookups, and the
request body conventions (strict known fields, Keystone's free-form extra attributes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.identity.models import ID_LENGTH
from stratus.identity.provider import TokenProvider
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.pagination import page_params, paginate
from stratus.runtime.db import Database

Row = TypeVar("Row")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_READ_ONLY = ("id", "links")


@dataclass(frozen=True)
class IdentityService:
    """The identity API's state: its database, its token provider and its settings."""

    db: Database
    provider: TokenProvider
    password_cost: int
    token_lifetime: int


def service(request: Request) -> IdentityService:
    return request.app.state.identity


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    """A unit of work on the identity database."""
    with service(request).db.session() as session:
        yield session


def insert_once(request: Request, row: Any, exists: Callable[[Session], bool]) -> None:
    """Insert ``row`` unless ``exists`` says it is there: an idempotent PUT. Two such PUTs
    racing both see no row; the loser's duplicate insert then finds the winner's row,
    which is the state both asked for, instead of failing."""
    try:
        with transaction(request) as session:
            if not exists(session):
                session.add(row)
    except IntegrityError:
        with transaction(request) as session:
            if not exists(session):
                raise


def url(request: Request, *parts: str) -> str:
    return str(request.base_url).rstrip("/") + "/v3/" + "/".join(parts)


def links(request: Request, *parts: str) -> dict[str, str]:
    return {"self": url(request, *parts)}


def collection(
    request: Request, key: str, items: list[dict[str, Any]], next_marker: str | None = None
) -> dict[str, Any]:
    """A list response with Keystone's ``links`` (``next`` when there is another page)."""
    following = None
    if next_marker is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
        query.append(("marker", next_marker))
        following = str(request.url.replace(query=urlencode(query)))
    return {
        key: items,
        "links": {"self": str(request.url), "previous": None, "next": following},
    }


def listing(
    request: Request,
    session: Session,
    model: type[Row],
    filters: list[sa.ColumnElement[bool]],
    *,
    sort_keys: tuple[str, ...] = ("name", "id"),
) -> tuple[list[Row], str | None]:
    """One page of rows matching the filters, by ``limit``/``marker``/``sort_key``."""
    page = page_params(
        request.query_params, sort_keys=sort_keys, default_sort=((sort_keys[0], "asc"),)
    )
    return paginate(session, sa.select(model).where(*filters), model, page)


def query_filters(
    request: Request, model: type, names: tuple[str, ...]
) -> list[sa.ColumnElement[bool]]:
    """Equality filters from the query string (``?name=x&enabled=false``)."""
    filters = []
    for name in names:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        column = getattr(model, name)
        value: Any = raw
        if name == "enabled":
            value = query_bool(name, raw)
        filters.append(column == value)
    return filters


def query_bool(name: str, raw: str) -> bool:
    """A boolean query parameter; a bare ``?effective`` counts as true."""
    lowered = raw.strip().lower()
    if lowered in _TRUE or lowered == "":
        return True
    if lowered in _FALSE:
        return False
    raise BadRequest(f"Query parameter {name} must be true or false, not {raw!r}.")


def fetch(session: Session, model: type[Row], ident: str, kind: str) -> Row:
    """The row with this id, or a 404 that names what was looked for."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"Could not find {kind}: {ident}.")
    return row


def save(session: Session, row: object, what: str) -> None:
    """Add and flush a row; a uniqueness violation is a 409 naming the duplicate."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Conflict occurred attempting to store {what}: it already exists.") from exc


def apply(row: object, body: BaseModel, names: tuple[str, ...]) -> None:
    """Copy the fields a PATCH body set onto the row."""
    for name in body.model_fields_set & set(names):
        setattr(row, name, getattr(body, name))


def not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must contain a non-space character")
    return value


def check_tag(value: str) -> str:
    if "/" in value or "," in value:
        raise ValueError("must not contain '/' or ','")
    return value


Description = Annotated[str | None, Field(max_length=65535)]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=255), AfterValidator(check_tag)]],
    Field(max_length=80),
]


class Body(BaseModel):
    """A resource in a request: known fields strictly typed, anything else kept as an
    extra attribute (Keystone stores those and returns them)."""

    model_config = ConfigDict(extra="allow", strict=True)

    def extras(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in _READ_ONLY}

    def merge_into(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The row's extra attributes updated with this body's (a new dict, so that the
        JSON column notices the change)."""
        return {**extra, **self.extras()}


class Closed(BaseModel):
    """A request body that allows no other fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Patch(Body):
    """An update: every field optional, but the ones in ``not_null`` cannot be set to
    null."""

    not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _no_nulls(self) -> Patch:
        nulls = [
            f for f in self.not_null if f in self.model_fields_set and getattr(self, f) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


def name_type(max_length: int) -> Any:
    """A name: 1 to ``max_length`` characters, not only spaces."""
    return Annotated[str, Field(min_length=1, max_length=max_length), AfterValidator(not_blank)]


IdRef = Annotated[str, Field(min_length=1, max_length=ID_LENGTH)]
