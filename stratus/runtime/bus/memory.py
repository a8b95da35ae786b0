"""The in-process transport (``memory://``): direct dispatch, for one process.

Buses connected to the same ``memory://<name>`` share one broker, as buses on one
RabbitMQ do (``memory://`` names the default one). A call runs the handler in the
caller's thread, so it costs microseconds; casts and fanouts run on the listener's pool.
A call is not interrupted: if its handler overruns the timeout, the call raises
``BusTimeout`` when the handler returns and the result is dropped, as a late AMQP reply
is. A call or cast to a topic nobody listens on fails at once (call) or is dropped (cast).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import defaultdict, deque

from stratus.runtime.bus.base import Bus, Listener, targets, worker_pool
from stratus.runtime.bus.endpoint import Endpoint
from stratus.runtime.bus.errors import BusTimeout

log = logging.getLogger("stratus.bus")


class MemoryListener(Listener):
    def __init__(
        self, broker: _Broker, topic: str, endpoint: Endpoint, host: str | None, pool_size: int
    ) -> None:
        self.topic = topic
        self.targets = targets(topic, host)
        self.endpoint = endpoint
        self._pool = worker_pool(topic, pool_size)
        self._broker = broker
        broker.add(self)

    def submit(self, body: str) -> None:
        try:
            self._pool.submit(self.endpoint.run, body)
        except RuntimeError:  # stopped since the broker handed it out
            log.debug("%s: dropped a message that arrived while stopping", self.topic)

    def stop(self) -> None:
        self._broker.remove(self)
        self._pool.shutdown(wait=True)


class _Broker:
    """Who listens on what: work shared round-robin per target, fanout to every listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work: defaultdict[str, deque[MemoryListener]] = defaultdict(deque)
        self._fanout: defaultdict[str, deque[MemoryListener]] = defaultdict(deque)

    def add(self, listener: MemoryListener) -> None:
        with self._lock:
            for name in listener.targets:
                self._work[name].append(listener)
            self._fanout[listener.topic].append(listener)

    def remove(self, listener: MemoryListener) -> None:
        with self._lock:
            for name in listener.targets:
                _discard(self._work, name, listener)
            _discard(self._fanout, listener.topic, listener)

    def pick(self, target: str) -> MemoryListener | None:
        """The next listener of ``target`` in turn, if any."""
        with self._lock:
            listeners = self._work.get(target)
            if not listeners:
                return None
            listeners.rotate(-1)
            return listeners[-1]

    def subscribers(self, topic: str) -> list[MemoryListener]:
        with self._lock:
            return list(self._fanout.get(topic, ()))


def _discard(registry: dict[str, deque[MemoryListener]], key: str, member: MemoryListener) -> None:
    members = registry.get(key)
    if members is not None and member in members:
        members.remove(member)
        if not members:
            del registry[key]


_brokers: weakref.WeakValueDictionary[str, _Broker] = weakref.WeakValueDictionary()
_brokers_lock = threading.Lock()


def _broker(name: str) -> _Broker:
    with _brokers_lock:
        broker = _brokers.get(name)
        if broker is None:
            broker = _brokers[name] = _Broker()
        return broker


class MemoryBus(Bus):
    def __init__(self, name: str = "") -> None:
        super().__init__()
        self._broker = _broker(name)

    def _request(self, target: str, body: str, timeout: float) -> str | None:
        listener = self._broker.pick(target)
        if listener is None:
            raise BusTimeout(f"nobody listens on {target!r}")
        started = time.monotonic()
        reply = listener.endpoint.reply(body)
        return reply if time.monotonic() - started <= timeout else None

    def _send(self, target: str, body: str) -> None:
        listener = self._broker.pick(target)
        if listener is None:
            log.debug("dropped a cast to %r: nobody listens", target)
        else:
            listener.submit(body)

    def _broadcast(self, topic: str, body: str) -> None:
        for listener in self._broker.subscribers(topic):
            listener.submit(body)

    def _listen(
        self, topic: str, endpoint: Endpoint, host: str | None, pool_size: int
    ) -> MemoryListener:
        return MemoryListener(self._broker, topic, endpoint, host, pool_size)

    def _close(self) -> None:
        """Nothing of its own to let go of: the broker goes with its last bus."""
