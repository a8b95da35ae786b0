"""The listening side: a request becomes a call of one public method of the endpoint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from stratus.runtime.bus import wire
from stratus.runtime.bus.errors import UnknownMethod

log = logging.getLogger("stratus.bus")

_context: ContextVar[Mapping[str, Any]] = ContextVar(
    "stratus_bus_context", default=MappingProxyType({})
)


def current_context() -> Mapping[str, Any]:
    """The ``_context`` the message being handled was sent with (empty if none)."""
    return _context.get()


class Endpoint:
    def __init__(self, target: object, topic: str) -> None:
        self._target = target
        self._topic = topic

    def reply(self, body: str | bytes) -> str:
        """Handle a call: the encoded reply, a result or the error the method raised."""
        try:
            result = self._invoke(wire.decode_request(body))
        except Exception as exc:
            log.debug("%s: call failed", self._topic, exc_info=True)
            return wire.encode_error(exc)
        return wire.encode_result(result)

    def run(self, body: str | bytes) -> None:
        """Handle a cast or fanout: nobody waits for the outcome, so a failure is logged."""
        try:
            request = wire.decode_request(body)
        except Exception:
            log.exception("%s: dropped a message that does not decode", self._topic)
            return
        try:
            self._invoke(request)
        except Exception:
            log.exception("%s.%s failed", self._topic, request.method)

    def _invoke(self, request: wire.Request) -> Any:
        name = request.method
        method = None if name.startswith("_") else getattr(self._target, name, None)
        if not callable(method):
            kind = type(self._target).__name__
            raise UnknownMethod(f"{kind} on {self._topic!r} has no public method {name!r}")
        token = _context.set(MappingProxyType(request.context))
        try:
            return method(**request.kwargs)
        finally:
            _context.reset(token)
