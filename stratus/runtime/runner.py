"""Run parts: every API on its own port and event loop, workers in the background.

The same function runs the all-in-one cloud (``stratus up``: every enabled service's
parts) and a single part of a split deployment (``stratus run PART``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator, Sequence

import uvicorn

from stratus.runtime import parts as part_table
from stratus.runtime.parts import ApiPart, WorkerPart
from stratus.runtime.process import Runtime

LOG = logging.getLogger(__name__)


class PortInUse(RuntimeError):
    """An API's port is taken: another cloud (or something else) is listening there."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the runner (several run at once)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _check_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"port {port} on {host} is already in use: {exc.strerror}") from exc


def run(runtime: Runtime, names: Sequence[str]) -> None:
    """Build the named parts and run them until SIGINT or SIGTERM."""
    built = [part_table.build(name, runtime) for name in names]
    apis = [p for p in built if isinstance(p, ApiPart)]
    workers = [p for p in built if isinstance(p, WorkerPart)]
    workers += [worker for api in apis for worker in api.background]
    bind = runtime.conf.get("DEFAULT", "bind_host")
    for api in apis:
        _check_free(bind, api.port)
    started: list[WorkerPart] = []
    try:
        for worker in workers:
            LOG.info("starting %s", worker.name)
            worker.start()
            started.append(worker)
        _serve(apis, bind)
    finally:
        for worker in reversed(started):
            LOG.info("stopping %s", worker.name)
            worker.stop()
        runtime.close()


KEEP_ALIVE_SECONDS = 75


def _serve(apis: Sequence[ApiPart], bind: str) -> None:
    """Serve every API until SIGINT or SIGTERM (or until one of them stops)."""
    stop = threading.Event()
    main_pid = os.getpid()

    def on_signal(signum: int, _frame: object) -> None:
        # Only the main process stops: a child forked from it (host tools do fork) that
        # receives the signal dies of it as if it had no handler.
        if os.getpid() == main_pid:
            stop.set()
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    serve_apis(apis, bind, stop)


def serve_apis(apis: Sequence[ApiPart], bind: str, stop: threading.Event) -> None:
    """Serve every API, each on an event loop of its own thread, until ``stop`` is set or
    one of them stops. Own loops give each API its own pool of worker threads for its
    blocking handlers: on one shared pool, handlers of one API waiting on another API of
    the same process (the container API on the image and network APIs, say) could hold
    every thread and starve the handlers they wait for."""
    servers = [
        _Server(
            uvicorn.Config(
                api.app,
                host=bind,
                port=api.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=5,
                # Longer than clients' polling intervals (the openstack client's --wait
                # polls every 5 s): a server closing an idle connection just as a client
                # reuses it makes the client fail with "connection reset by peer".
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
        )
        for api in apis
    ]
    threads = [
        threading.Thread(target=asyncio.run, args=(server.serve(),), name=api.name, daemon=True)
        for api, server in zip(apis, servers, strict=True)
    ]
    for api, thread in zip(apis, threads, strict=True):
        thread.start()
        LOG.info("%s listening on %s:%d", api.name, bind, api.port)
    while not stop.is_set() and all(thread.is_alive() for thread in threads):
        stop.wait(0.5)
    for server in servers:
        server.should_exit = True
    for thread in threads:
        thread.join(timeout=15)
