"""API errors and the OpenStack-shaped bodies each service renders them in.

Handlers raise :class:`ApiError` subclasses; the app turns them into the body shape of
the service (Keystone's ``{"error": {...}}``, Nova's ``{"itemNotFound": {...}}``,
Neutron's ``{"NeutronError": {...}}``, Zun's ``{"errors": [...]}``). All of them carry
a ``message`` that says what was wrong, which is what keystoneauth and openstacksdk show.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """An error the client caused or must know about; ``status`` is the HTTP code."""

    status = 500

    def __init__(
        self, message: str, *, error_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type or type(self).__name__
        self.headers = headers or {}

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class NotAcceptable(ApiError):
    status = 406


class Conflict(ApiError):
    status = 409


class Gone(ApiError):
    status = 410


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class OverLimit(ApiError):
    """Quota exceeded: 413 as Nova and Glance answer it (Neutron uses 409)."""

    status = 413


class InternalError(ApiError):
    status = 500


class ServiceUnavailable(ApiError):
    status = 503


def error_for_status(status: int, message: str) -> ApiError:
    """The ApiError matching an HTTP status (for framework-level errors such as 404/405)."""
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        Gone,
        PayloadTooLarge,
        UnsupportedMediaType,
        ServiceUnavailable,
    ):
        if cls.status == status:
            return cls(message)
    error = ApiError(message)
    error.status = status
    return error


ErrorRenderer = Callable[[ApiError, str], dict[str, Any]]


def render_keystone(error: ApiError, request_id: str) -> dict[str, Any]:
    """Keystone (and Glance, here): ``{"error": {"code", "title", "message"}}``."""
    return {"error": {"code": error.status, "title": error.title, "message": error.message}}


_NOVA_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    503: "serviceUnavailable",
}


def render_nova(error: ApiError, request_id: str) -> dict[str, Any]:
    """Nova: the fault name as the key, ``{"itemNotFound": {"code", "message"}}``."""
    name = _NOVA_NAMES.get(error.status, "computeFault")
    return {name: {"code": error.status, "message": error.message}}


def render_neutron(error: ApiError, request_id: str) -> dict[str, Any]:
    """Neutron: ``{"NeutronError": {"type", "message", "detail"}}``."""
    return {"NeutronError": {"type": error.error_type, "message": error.message, "detail": ""}}


def render_zun(error: ApiError, request_id: str) -> dict[str, Any]:
    """Zun (API-WG errors guideline): ``{"errors": [{"status", "title", "detail", ...}]}``.
    The title carries the message, as Zun's does: it is what python-zunclient prints."""
    return {
        "errors": [
            {
                "request_id": request_id,
                "code": error.error_type,
                "status": error.status,
                "title": error.message,
                "detail": error.message,
                "links": [],
            }
        ]
    }
