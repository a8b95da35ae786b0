"""The interface every transport implements; checks and encoding live here, once."""

from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from stratus.runtime.bus import wire
from stratus.runtime.bus.endpoint import Endpoint
from stratus.runtime.bus.errors import BusError, BusTimeout

DEFAULT_POOL_SIZE = 8


def targets(topic: str, host: str | None) -> list[str]:
    """The work queues a listener consumes: the topic's, and its host's if it has one."""
    return [topic] if host is None else [topic, target(topic, host)]


def target(topic: str, host: str | None) -> str:
    return topic if host is None else f"{topic}.{host}"


def worker_pool(topic: str, size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(size, thread_name_prefix=f"stratus-bus-{topic}")


class Listener(ABC):
    """A running ``Bus.serve``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop taking messages and wait for those already taken to be handled (idempotent)."""


class Bus(ABC):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        # A running listener is held by its threads or its broker registration, so this
        # set forgets only listeners that were stopped.
        self._listeners: weakref.WeakSet[Listener] = weakref.WeakSet()

    def call(
        self,
        topic: str,
        method: str,
        *,
        host: str | None = None,
        timeout: float = 60.0,
        _context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``method`` on one listener of the topic (of its host's topic if ``host``)
        and return its result."""
        self._check_open()
        where = target(topic, host)
        reply = self._request(where, wire.encode_request(method, kwargs, _context), timeout)
        if reply is None:
            raise BusTimeout(f"no reply to {method!r} from {where!r} within {timeout:g} s")
        return wire.decode_reply(reply)

    def cast(
        self,
        topic: str,
        method: str,
        *,
        host: str | None = None,
        _context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Have one listener of the topic (of its host's topic if ``host``) run ``method``."""
        self._check_open()
        self._send(target(topic, host), wire.encode_request(method, kwargs, _context))

    def fanout(
        self, topic: str, method: str, *, _context: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Have every listener of the topic run ``method``."""
        self._check_open()
        self._broadcast(topic, wire.encode_request(method, kwargs, _context))

    def serve(
        self,
        topic: str,
        endpoint: object,
        *,
        host: str | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> Listener:
        """Take the topic's messages (and its host's, if ``host``) and run them on
        ``endpoint``'s public methods, ``pool_size`` at a time."""
        self._check_open()
        listener = self._listen(topic, Endpoint(endpoint, topic), host, pool_size)
        with self._lock:
            if not self._closed:
                self._listeners.add(listener)
                return listener
        listener.stop()
        raise BusError("the bus is closed")

    def close(self) -> None:
        """Stop every listener of this bus and let go of its connections (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            listeners = list(self._listeners)
        for listener in listeners:
            listener.stop()
        self._close()

    def __enter__(self) -> Bus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("the bus is closed")

    @abstractmethod
    def _request(self, target: str, body: str, timeout: float) -> str | bytes | None:
        """Deliver a call to one listener of ``target``: its reply, None if none in time."""

    @abstractmethod
    def _send(self, target: str, body: str) -> None:
        """Deliver a cast to one listener of ``target``."""

    @abstractmethod
    def _broadcast(self, topic: str, body: str) -> None:
        """Deliver a fanout to every listener of ``topic``."""

    @abstractmethod
    def _listen(self, topic: str, endpoint: Endpoint, host: str | None, pool_size: int) -> Listener:
        """Start a listener."""

    @abstractmethod
    def _close(self) -> None:
        """Let go of the transport's own resources, once its listeners are stopped."""
