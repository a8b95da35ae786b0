"""The runner serves APIs that call one another in the same process without starving:
each API has its own event loop and pool of worker threads; what an API runs in the
background starts before it serves and stops after."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from stratus.runtime import runner
from stratus.runtime.parts import ApiPart, WorkerPart
from stratus.runtime.runner import serve_apis
from stratus.testing.cloud import free_port

# More concurrent requests than a worker-thread pool holds (AnyIO's default is 40).
REQUESTS = 60


def test_an_api_waiting_on_another_in_the_same_process_is_never_starved() -> None:
    inner_port, outer_port = free_port(), free_port()
    inner, outer = FastAPI(), FastAPI()

    @inner.get("/answer")
    def answer() -> dict[str, int]:  # a blocking handler: it takes a worker thread
        return {"answer": 42}

    @outer.get("/ask")
    def ask() -> dict[str, int]:  # holds its worker thread while the inner API answers
        time.sleep(0.2)  # let every request get here first
        return httpx.get(f"http://127.0.0.1:{inner_port}/answer", timeout=20).json()

    stop = threading.Event()
    apis = [ApiPart("inner", inner_port, inner), ApiPart("outer", outer_port, outer)]
    server = threading.Thread(target=serve_apis, args=(apis, "127.0.0.1", stop))
    server.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{inner_port}/answer", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the APIs did not start"
                time.sleep(0.05)

        def call(_: int) -> int:
            return httpx.get(f"http://127.0.0.1:{outer_port}/ask", timeout=30).status_code

        with ThreadPoolExecutor(REQUESTS) as pool:
            codes = list(pool.map(call, range(REQUESTS)))
        assert codes == [200] * REQUESTS
    finally:
        stop.set()
        server.join(timeout=30)
    assert not server.is_alive()


def test_an_apis_background_work_runs_while_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    port = free_port()

    def start() -> None:
        events.append("started")
        # Stopped as a signal stops a cloud, once it serves.
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()

    background = WorkerPart("sweep", start, lambda: events.append("stopped"))
    part = ApiPart("api", port, FastAPI(), (background,))
    monkeypatch.setattr(runner.part_table, "build", lambda name, runtime: part)
    closed: list[bool] = []
    fake_runtime = SimpleNamespace(
        conf=SimpleNamespace(get=lambda section, key: "127.0.0.1"),
        close=lambda: closed.append(True),
    )
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        runner.run(fake_runtime, ["api"])  # type: ignore[arg-type]
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert events == ["started", "stopped"] and closed == [True]
