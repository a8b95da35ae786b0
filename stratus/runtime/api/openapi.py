"""The OpenAPI document of an app, completed with the request bodies that
:func:`stratus.runtime.api.validation.json_body` validates (FastAPI cannot see them,
because we read bodies ourselves to answer 413/415/400 the OpenStack way)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi

BODY_MODEL_ATTRIBUTE = "__stratus_body__"


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` include every route's validated request body."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for route in _api_routes(app):
                _add_body(document, schemas, route)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _api_routes(app: FastAPI) -> list[Any]:
    """Every API route with its full path (FastAPI >= 0.130 keeps included routers nested
    and exposes their routes through ``iter_route_contexts``)."""
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:
        return [route for route in app.routes if isinstance(route, routing.APIRoute)]
    return [ctx for ctx in iterate(app.routes) if isinstance(ctx.original_route, routing.APIRoute)]


def _add_body(document: dict[str, Any], schemas: dict[str, Any], route: Any) -> None:
    for dependency in route.dependant.dependencies:
        body = getattr(dependency.call, BODY_MODEL_ATTRIBUTE, None)
        if body is None:
            continue
        model, content_types = body
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        reference = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            operation["requestBody"] = {
                "required": True,
                "content": {content_type: reference for content_type in content_types},
            }
