"""Token authentication for every API: ``X-Auth-Token`` in, a :class:`RequestContext` out.

The app's ``state.validator`` turns a token into the Keystone v3 token body. The identity
service validates its own tokens directly; every other service asks the identity API
(see :mod:`stratus.runtime.identity_client`), with a cache, as keystonemiddleware does.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import Unauthorized

AUTH_REQUIRED = "The request you have made requires authentication."


class TokenValidator(Protocol):
    def validate(self, token: str) -> dict[str, Any]:
        """The ``token`` object of a valid token; raises Unauthorized otherwise."""
        ...

    def cached(self, token: str) -> dict[str, Any] | None:
        """What :meth:`validate` would give, if known without blocking; else None."""
        ...


async def authenticated(request: Request) -> RequestContext:
    """FastAPI dependency: the caller's context, or a 401. A token the validator knows
    already is taken on the event loop: no worker thread for most requests."""
    token = request.headers.get("x-auth-token")
    if not token:
        raise Unauthorized(AUTH_REQUIRED)
    validator: TokenValidator = request.app.state.validator
    body = validator.cached(token)
    if body is None:
        body = await run_in_threadpool(validator.validate, token)
    context = RequestContext.from_token(body, token)
    request.state.context = context
    return context
