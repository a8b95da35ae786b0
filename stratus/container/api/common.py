"""What the container API's handlers share: the service, the caller, query flags."""

from __future__ import annotations

from fastapi import Request

from stratus.container.service import ContainerService
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.microversion import APIVersion

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "", "none")


def service(request: Request) -> ContainerService:
    return request.app.state.service


def version(request: Request) -> APIVersion:
    return request.state.api_version


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter as zunclient sends them ("True", "False")."""
    value = request.query_params.get(name)
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise BadRequest(f"Query parameter {name} must be a boolean, not {value!r}.")


def integer(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value in (None, "", "None"):
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise BadRequest(f"Query parameter {name} must be an integer, not {value!r}.") from exc
