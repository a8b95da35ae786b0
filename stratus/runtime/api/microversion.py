"""Microversion negotiation, as Nova and Zun do it.

A client asks with ``OpenStack-API-Version: <service-type> <X.Y|latest>`` (or a legacy
per-service header such as ``X-OpenStack-Nova-API-Version``); no header means the
minimum. The chosen version is in ``request.state.api_version`` and is echoed back in the
response headers; a version outside the supported range is a 406.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.runtime.api.errors import ApiError, BadRequest, ErrorRenderer, NotAcceptable

_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


@total_ordering
@dataclass(frozen=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION.match(text.strip())
        if not match:
            raise BadRequest(f"API version {text!r} is not of the form X.Y.")
        return cls(int(match.group(1)), int(match.group(2)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, APIVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def matches(self, minimum: str, maximum: str | None = None) -> bool:
        """Whether this version lies in [minimum, maximum] (maximum open if None)."""
        if self < APIVersion.parse(minimum):
            return False
        return maximum is None or self <= APIVersion.parse(maximum)


@dataclass(frozen=True)
class Microversions:
    service_type: str
    minimum: str
    maximum: str
    path_prefix: str
    legacy_header: str | None = None
    echo_range: bool = False

    def negotiate(self, headers: Headers) -> APIVersion:
        requested = None
        for value in headers.getlist("openstack-api-version"):
            for item in value.split(","):
                parts = item.strip().split()
                if len(parts) == 2 and parts[0].lower() == self.service_type:
                    requested = parts[1]
        if requested is None and self.legacy_header:
            requested = headers.get(self.legacy_header)
        low, high = APIVersion.parse(self.minimum), APIVersion.parse(self.maximum)
        if requested is None:
            return low
        if requested.strip().lower() == "latest":
            return high
        version = APIVersion.parse(requested)
        if not low <= version <= high:
            raise NotAcceptable(
                f"Version {version} is not supported by the API. "
                f"Minimum is {low} and maximum is {high}."
            )
        return version

    def response_headers(self, version: APIVersion | None) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        vary = ["OpenStack-API-Version"]
        if version is not None:
            headers.append((b"openstack-api-version", f"{self.service_type} {version}".encode()))
            if self.legacy_header:
                headers.append((self.legacy_header.lower().encode(), str(version).encode()))
        if self.legacy_header:
            vary.append(self.legacy_header)
        if self.echo_range:
            headers.append(
                (b"openstack-api-minimum-version", f"{self.service_type} {self.minimum}".encode())
            )
            headers.append(
                (b"openstack-api-maximum-version", f"{self.service_type} {self.maximum}".encode())
            )
        headers.append((b"vary", ", ".join(vary).encode()))
        return headers

    def middleware(self, app: ASGIApp, render_error: ErrorRenderer) -> ASGIApp:
        return _MicroversionMiddleware(app, self, render_error)


class _MicroversionMiddleware:
    def __init__(self, app: ASGIApp, spec: Microversions, render_error: ErrorRenderer) -> None:
        self.app = app
        self.spec = spec
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.spec.path_prefix):
            await self.app(scope, receive, send)
            return
        try:
            version: APIVersion | None = self.spec.negotiate(Headers(scope=scope))
        except ApiError as error:
            version = None
            request_id = scope.get("state", {}).get("request_id", "")
            response = JSONResponse(self.render_error(error, request_id), status_code=error.status)
            await response(scope, receive, self._with_headers(send, None))
            return
        scope.setdefault("state", {})["api_version"] = version
        await self.app(scope, receive, self._with_headers(send, version))

    def _with_headers(self, send: Send, version: APIVersion | None) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *self.spec.response_headers(version),
                ]
            await send(message)

        return wrapped
