"""The FastAPI application every service's API is built on.

It adds what all OpenStack APIs share: a request id on every response and log line,
OpenStack-shaped errors for every failure (including the framework's own 404/405 and
validation errors), optional microversion negotiation, and ``/healthcheck``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.runtime.api import openapi
from stratus.runtime.api.errors import ApiError, ErrorRenderer, InternalError, error_for_status
from stratus.runtime.api.microversion import Microversions
from stratus.runtime.api.validation import describe_validation_errors
from stratus.runtime.log import request_id_var

LOG = logging.getLogger(__name__)
REQUEST_ID_HEADER = "x-openstack-request-id"


class RequestIdMiddleware:
    """Give each request an id (``req-<uuid>``), expose it in logs and response headers."""

    def __init__(self, app: ASGIApp, extra_header: str | None = None) -> None:
        self.app = app
        self.headers = [REQUEST_ID_HEADER.encode()]
        if extra_header:
            self.headers.append(extra_header.lower().encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend((name, request_id.encode()) for name in self.headers)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def create_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    render_error: ErrorRenderer,
    microversions: Microversions | None = None,
    request_id_header: str | None = None,
    state: dict[str, Any] | None = None,
) -> FastAPI:
    """Build a service API. ``state`` entries become ``app.state`` attributes."""
    app = FastAPI(title=title, openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    for key, value in (state or {}).items():
        setattr(app.state, key, value)

    def respond(request: Request, error: ApiError) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "")
        headers = dict(error.headers)
        return JSONResponse(
            render_error(error, request_id), status_code=error.status, headers=headers
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status >= 500:
            LOG.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(request, error_for_status(400, describe_validation_errors(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "The resource could not be found." if exc.status_code == 404 else str(exc.detail)
        error = error_for_status(exc.status_code, message)
        error.headers.update(exc.headers or {})
        return respond(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOG.exception("%s %s failed unexpectedly", request.method, request.url.path)
        return respond(request, InternalError("An unexpected error prevented the request."))

    @app.get("/healthcheck", include_in_schema=False)
    def healthcheck() -> PlainTextResponse:
        return PlainTextResponse("OK")

    for router in routers:
        app.include_router(router)
    openapi.install(app)
    if microversions is not None:
        app.add_middleware(microversions.middleware, render_error=render_error)
    app.add_middleware(RequestIdMiddleware, extra_header=request_id_header)
    return app
