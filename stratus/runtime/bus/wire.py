"""The wire format both transports share: JSON envelopes for requests and replies.

A request is ``{"method": ..., "kwargs": {...}, "context": {...}}`` (context only if
given); a reply is ``{"result": ...}`` or ``{"error": {"type", "message", "traceback"}}``.
The in-process transport goes through JSON too, so that a handler never shares a mutable
object with its caller and what cannot be serialised fails the same way on both.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from typing import Any

from stratus.runtime.bus.errors import BusError, RemoteError


@dataclass(frozen=True)
class Request:
    method: str
    kwargs: dict[str, Any]
    context: dict[str, Any]


def encode_request(method: str, kwargs: dict[str, Any], context: dict[str, Any] | None) -> str:
    envelope: dict[str, Any] = {"method": method, "kwargs": kwargs}
    if context is not None:
        envelope["context"] = context
    try:
        return json.dumps(envelope)
    except (TypeError, ValueError) as exc:
        raise BusError(f"the arguments of {method!r} are not JSON-serialisable: {exc}") from exc


def decode_request(body: str | bytes) -> Request:
    envelope = json.loads(body)
    return Request(envelope["method"], envelope["kwargs"], envelope.get("context", {}))


def encode_result(value: Any) -> str:
    try:
        return json.dumps({"result": value})
    except (TypeError, ValueError) as exc:
        return encode_error(TypeError(f"the result is not JSON-serialisable: {exc}"))


def encode_error(exc: BaseException) -> str:
    error = {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    return json.dumps({"error": error})


def decode_reply(body: str | bytes) -> Any:
    """The result a reply carries, or the ``RemoteError`` it reports, raised."""
    envelope = json.loads(body)
    if "error" in envelope:
        error = envelope["error"]
        raise RemoteError(error["type"], error["message"], error.get("traceback", ""))
    return envelope["result"]
