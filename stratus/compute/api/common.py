"""What every compute API handler shares: the service behind the app, the negotiated
microversion, links, timestamps and query parsing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from stratus.compute.clients.images import ImageClient
from stratus.compute.clients.network import NetworkClient
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Forbidden
from stratus.runtime.api.microversion import APIVersion
from stratus.runtime.api.policy import Policy
from stratus.runtime.bus import Bus
from stratus.runtime.config import Config
from stratus.runtime.db import Database

PREFIX = "/v2.1"
MIN_VERSION = "2.1"
MAX_VERSION = "2.79"


@dataclass(frozen=True)
class Backend:
    conf: Config
    db: Database
    bus: Bus
    policy: Policy
    images: ImageClient
    network: NetworkClient

    @property
    def max_limit(self) -> int:
        return self.conf.compute.max_limit


def backend(request: Request) -> Backend:
    """The compute service behind this app."""
    return request.app.state.backend


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    with backend(request).db.session() as session:
        yield session


def version(request: Request) -> APIVersion:
    return request.state.api_version


def at_least(request: Request, minimum: str) -> bool:
    return version(request).matches(minimum)


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def links(request: Request, collection: str, item_id: str | int) -> list[dict[str, str]]:
    """The ``self`` (versioned) and ``bookmark`` (unversioned) links of a resource."""
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}{PREFIX}/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{item_id}"},
    ]


def next_link(request: Request, collection: str, marker: str | None) -> list[dict[str, str]]:
    """The ``<collection>_links`` of a page that is not the last one."""
    if marker is None:
        return []
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    params.append(("marker", marker))
    query = "&".join(f"{k}={v}" for k, v in params)
    return [{"rel": "next", "href": f"{base_url(request)}{PREFIX}/{collection}?{query}"}]


def zulu(value: datetime | None) -> str | None:
    """``2024-05-01T10:00:00Z``, as Nova shows server times."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def micro(value: datetime | None) -> str | None:
    """``2024-05-01T10:00:00.123456``, as Nova shows record times."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def parse_time(name: str, raw: str) -> datetime:
    """An ISO 8601 time from the query (any offset, stored as naive UTC)."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise BadRequest(
            f"Invalid input for query parameter {name}: {raw!r} is not a date-time."
        ) from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def query_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "t", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "n", "off"):
        return False
    raise BadRequest(f"Invalid value {raw!r} for query parameter {name}: expected a boolean.")


def query_int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid value {raw!r} for query parameter {name}: expected an integer."
        ) from exc
    if value < minimum:
        raise BadRequest(f"Query parameter {name} must be at least {minimum}.")
    return value


def check_query(query: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse query parameters the API does not know (Nova from 2.75 on)."""
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise BadRequest(f"Invalid input for query parameters {', '.join(unknown)}.")


def project_scoped(ctx: RequestContext) -> str:
    """The caller's project (every compute resource belongs to one)."""
    if ctx.project_id is None:
        raise Forbidden("The compute API needs a project-scoped token.")
    return ctx.project_id
