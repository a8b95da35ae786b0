"""One-hop routes: a plain endpoint runs in a worker thread, once, with its parameters,
dependencies and return type seen by FastAPI as written."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from stratus.runtime.api import routing

router = routing.Router(prefix="/things")
THREADS: list[str] = []


def calls_made(request: Request) -> int:
    THREADS.append("dependency:" + threading.current_thread().name)
    return 7


@router.get("/{thing_id}")
def show(
    thing_id: int, request: Request, size: int = 1, made: int = Depends(calls_made)
) -> dict[str, Any]:
    THREADS.append("endpoint:" + threading.current_thread().name)
    return {"id": thing_id, "size": size, "made": made, "backend": request.app.state.backend}


@router.get("/")
async def listing(backend: str = Depends(routing.app_backend)) -> dict[str, Any]:
    THREADS.append("async:" + threading.current_thread().name)
    return {"backend": backend}


def client() -> TestClient:
    app = FastAPI()
    app.state.backend = "the-backend"
    app.include_router(router)
    return TestClient(app)


def test_a_plain_endpoint_runs_in_a_worker_thread_with_its_parameters() -> None:
    THREADS.clear()
    with client() as http:
        loop_thread = http.get("/things/").json()  # async: on the event loop
        shown = http.get("/things/3", params={"size": "5"})
        wrong = http.get("/things/three")
    assert loop_thread == {"backend": "the-backend"}
    assert shown.json() == {"id": 3, "size": 5, "made": 7, "backend": "the-backend"}
    assert wrong.status_code == 422  # the path parameter is still an int to FastAPI
    assert [t.split(":")[0] for t in THREADS[:3]] == ["async", "dependency", "endpoint"]
    async_thread = THREADS[0].split(":")[1]
    assert THREADS[2].split(":")[1] != async_thread  # the endpoint: in a worker


def test_only_plain_functions_are_wrapped() -> None:
    routes = {route.path: route for route in router.routes}
    assert routes["/things/{thing_id}"].endpoint.__wrapped__ is show
    assert routes["/things/"].endpoint is listing
    assert routes["/things/{thing_id}"].response_model == dict[str, Any]
