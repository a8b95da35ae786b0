"""Routes that spend as few worker-thread hops as they can.

FastAPI runs a plain (``def``) endpoint in a worker thread, then validates what it
returned in another hop, and every plain dependency in one more; each hop costs about
0.1-0.3 ms of CPU under the GIL. Here a plain endpoint runs in one hop, as a coroutine
that awaits it in the thread pool, so its result is validated on the event loop; and the
service behind an app is a dependency that needs no thread at all.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def in_worker_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function that runs it in the thread pool (FastAPI
    reads the parameters and the return type through ``__wrapped__``)."""

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return run


def _plain(endpoint: Callable[..., Any]) -> bool:
    return not (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    )


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(
            path, in_worker_thread(endpoint) if _plain(endpoint) else endpoint, **kwargs
        )


class Router(APIRouter):
    """An APIRouter of OneHopRoutes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=OneHopRoute, **kwargs)


async def app_backend(request: Request) -> Any:
    """FastAPI dependency: the service behind this app (its ``state.backend``)."""
    return request.app.state.backend
