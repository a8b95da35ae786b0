"""A function run every few seconds in a thread of its own, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, func: Callable[[], None]) -> None:
        self.name = name
        self.interval = interval
        self.func = func
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, run_now: bool = True) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(run_now,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self, run_now: bool) -> None:
        if not run_now and self._stop.wait(self.interval):
            return
        while not self._stop.is_set():
            try:
                self.func()
            except Exception:  # a failed round must not end the next ones
                LOG.exception("%s failed", self.name)
            if self._stop.wait(self.interval):
                return
