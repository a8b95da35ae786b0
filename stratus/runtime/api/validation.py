"""Request bodies: content type, size, JSON syntax and schema, each with a clear 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from stratus.runtime.api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from stratus.runtime.api.openapi import BODY_MODEL_ATTRIBUTE

MAX_BODY_BYTES = 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One readable sentence per pydantic error: where, and what was wrong."""
    parts = []
    for error in errors:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        message = error.get("msg", "is invalid")
        if error.get("type") == "extra_forbidden":
            message = "is not an allowed field"
        elif error.get("type") == "missing":
            message = "is required"
        parts.append(f"'{location}' {message}" if location else message)
    return "Invalid input: " + "; ".join(parts)


async def read_json(request: Request, content_types: Sequence[str] = ("application/json",)) -> Any:
    """The request's JSON document, after checking its content type and size."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in content_types:
        raise UnsupportedMediaType(
            f"Content type {content_type or '(none)'!r} is not supported; "
            f"use {' or '.join(content_types)}."
        )
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Malformed JSON in request body: {exc}") from exc


def parse(model: type[Model], document: Any) -> Model:
    """Validate a decoded document against a model, as a 400 that names the fields."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise BadRequest(describe_validation_errors(exc.errors())) from exc


def json_body(
    model: type[Model], content_types: Sequence[str] = ("application/json",)
) -> Callable[[Request], Any]:
    """A FastAPI dependency giving the request body validated against ``model``."""

    async def dependency(request: Request) -> Model:
        return parse(model, await read_json(request, content_types))

    setattr(dependency, BODY_MODEL_ATTRIBUTE, (model, tuple(content_types)))
    return dependency
