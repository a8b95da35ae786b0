"""The RabbitMQ transport (``amqp://`` or ``rabbit://``), through kombu.

On the broker:

- exchange ``stratus`` (topic): each listener consumes the durable work queue ``<topic>``,
  shared round-robin with the topic's other listeners, and with a host also
  ``<topic>.<host>``; a queue's routing key is its name. A sender declares the queue it
  sends to as well (once per connection), so that what it sends before the first
  listener is up waits for it (an agent's first report to a server that is still
  starting) instead of being dropped by the exchange.
- exchange ``<topic>_fanout`` (fanout): one exclusive, auto-deleted queue per listener.
- one exclusive, auto-deleted reply queue per Bus, on the default exchange, made at its
  first call; a reply carries its request's correlation id.

Messages are transient, and a call's request expires with its timeout, so a listener
that comes back late does not run calls whose callers gave up. A listener acknowledges a
message when one of its workers takes it (at most once: agents reconcile, and a call is
never run twice) and holds at most ``pool_size`` unacknowledged ones, so a busy listener
leaves the topic's work to the others. Publishing goes through one connection per Bus,
under a lock, with publisher confirms: a publish returns once the broker has the message,
or is sent again over a new connection. Consumers run in threads of their own, each on its
own connection, and reconnect with backoff; a call waits for its Bus's reply queue to be
back before it publishes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any
from uuid import uuid4

from kombu import Connection, Exchange, Producer, Queue
from kombu.exceptions import OperationalError
from kombu.message import Message

from stratus.runtime.bus.base import Bus, Listener, targets, worker_pool
from stratus.runtime.bus.endpoint import Endpoint
from stratus.runtime.bus.errors import BusError

log = logging.getLogger("stratus.bus")

_TOPICS = Exchange("stratus", type="topic", durable=True)
_DEFAULT = Exchange("")
_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}
_POLL = 0.25  # how often a consumer thread looks up from the socket to see if it must stop
_READY_TIMEOUT = 10.0


def _fanout_exchange(topic: str) -> Exchange:
    return Exchange(f"{topic}_fanout", type="fanout", durable=True)


def _work_queue(name: str) -> Queue:
    """The durable queue of a topic (or topic and host) on the topic exchange."""
    return Queue(name, _TOPICS, name, durable=True)


def _connection(url: str, **options: Any) -> Connection:
    return Connection(url, connect_timeout=5, transport_options={**_RETRY, **options})


def _broker_errors(conn: Connection) -> tuple[type[BaseException], ...]:
    return (OperationalError, *conn.connection_errors, *conn.channel_errors)


class _Publisher:
    """The connection every thread of a Bus publishes on, one message at a time."""

    def __init__(self, url: str) -> None:
        self._conn = _connection(url, confirm_publish=True)
        self._lock = threading.Lock()
        try:  # connect now, so that a wrong URL or a missing broker shows at once
            self._producer = Producer(self._conn.default_channel)
        except _broker_errors(self._conn) as exc:
            raise BusError(f"cannot reach the message broker: {exc}") from exc

    def publish(
        self,
        body: str,
        exchange: Exchange,
        routing_key: str,
        queue: Queue | None = None,
        **properties: Any,
    ) -> None:
        """``queue``: declared (if not yet on this connection) before the message is sent."""
        declare: list[Exchange | Queue] = [exchange] if exchange.name else []
        if queue is not None:
            declare.append(queue)
        with self._lock:
            try:
                self._producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    declare=declare,
                    retry=True,
                    retry_policy=_RETRY,
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=1,
                    **properties,
                )
            except _broker_errors(self._conn) as exc:
                raise BusError(f"cannot publish to {routing_key!r}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.release()


class _Consumer:
    """Consumes queues in a thread of its own, on a connection of its own, until stopped;
    reconnects with backoff when the connection is lost. With a ``prefetch``, at most that
    many messages are delivered unacknowledged and ``on_message`` acknowledges them;
    without, they count as acknowledged on delivery."""

    def __init__(
        self,
        url: str,
        name: str,
        queues: list[Queue],
        on_message: Callable[[Message], None],
        *,
        prefetch: int | None = None,
    ) -> None:
        self._url = url
        self._name = name
        self._queues = queues
        self._on_message = on_message
        self._prefetch = prefetch
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        """Start, and return once the queues are declared and consumed."""
        self._thread.start()
        if not self.wait_ready(_READY_TIMEOUT):
            self.stop()
            raise BusError(f"cannot consume from the message broker: {self._error}")

    def wait_ready(self, timeout: float) -> bool:
        """Whether the queues are consumed, waiting up to ``timeout`` through a reconnect."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        delay = 0.0
        while not self._stopping.is_set():
            conn = _connection(self._url)
            try:
                with (
                    conn,
                    conn.Consumer(
                        self._queues,
                        on_message=self._on_message,
                        no_ack=self._prefetch is None,
                        prefetch_count=self._prefetch,
                    ),
                ):
                    self._ready.set()
                    delay = 0.0
                    while not self._stopping.is_set():
                        with contextlib.suppress(TimeoutError):
                            conn.drain_events(timeout=_POLL)
            except Exception as exc:  # whatever it was, a listener must not die of it
                self._ready.clear()
                self._error = exc
                delay = min(max(delay * 2, 0.1), 5.0)
                unexpected = not isinstance(exc, _broker_errors(conn))
                log.warning(
                    "%s: consuming failed (%s), retrying in %.1f s",
                    self._name,
                    exc,
                    delay,
                    exc_info=unexpected,
                )
                self._stopping.wait(delay)


class AmqpListener(Listener):
    def __init__(
        self,
        url: str,
        publisher: _Publisher,
        topic: str,
        endpoint: Endpoint,
        host: str | None,
        pool_size: int,
    ) -> None:
        self._publisher = publisher
        self._endpoint = endpoint
        self._slots = threading.BoundedSemaphore(pool_size)
        self._pool = worker_pool(topic, pool_size)
        queues = [_work_queue(name) for name in targets(topic, host)]
        fanout = f"{topic}_fanout_{uuid4().hex}"
        queues.append(Queue(fanout, _fanout_exchange(topic), exclusive=True, auto_delete=True))
        name = f"stratus-bus-{topic}"
        self._consumer = _Consumer(url, name, queues, self._take, prefetch=pool_size)
        self._consumer.start()

    def stop(self) -> None:
        self._consumer.stop()
        self._pool.shutdown(wait=True)

    def _take(self, message: Message) -> None:
        """Wait for a free worker, then acknowledge the message and hand it over."""
        while not self._slots.acquire(timeout=_POLL):
            if self._consumer.stopping:
                return  # unacknowledged: the broker gives it to another listener
        try:
            message.ack()
            self._pool.submit(self._handle, message.body, message.properties)
        except BaseException:
            self._slots.release()
            raise

    def _handle(self, body: bytes, properties: dict[str, Any]) -> None:
        reply_to = properties.get("reply_to")
        try:
            if not reply_to:
                self._endpoint.run(body)
                return
            reply = self._endpoint.reply(body)
            correlation_id = properties.get("correlation_id")
            self._publisher.publish(reply, _DEFAULT, reply_to, correlation_id=correlation_id)
        except BusError:
            log.exception("could not send a reply to %s", reply_to)
        finally:
            self._slots.release()


class _Replies:
    """A Bus's reply queue, and the callers waiting on it by correlation id."""

    def __init__(self, url: str) -> None:
        self.queue = f"reply_{uuid4().hex}"
        self._waiting: dict[str, Future[bytes]] = {}
        queue = Queue(self.queue, exclusive=True, auto_delete=True)
        self._consumer = _Consumer(url, "stratus-bus-replies", [queue], self._deliver)
        self._consumer.start()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the reply queue is there (it is made again after a reconnect)."""
        return self._consumer.wait_ready(timeout)

    def expect(self, correlation_id: str) -> Future[bytes]:
        future: Future[bytes] = Future()
        self._waiting[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        self._waiting.pop(correlation_id, None)

    def close(self) -> None:
        self._consumer.stop()
        while self._waiting:
            _, future = self._waiting.popitem()
            future.set_exception(BusError("the bus is closed"))

    def _deliver(self, message: Message) -> None:
        future = self._waiting.pop(message.properties.get("correlation_id", ""), None)
        if future is not None:  # else its caller gave up
            future.set_result(message.body)


class AmqpBus(Bus):
    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._publisher = _Publisher(url)
        self._replies: _Replies | None = None
        self._replies_lock = threading.Lock()

    def _request(self, target: str, body: str, timeout: float) -> bytes | None:
        replies = self._reply_queue()
        if not replies.wait_ready(timeout):  # a reply sent now would be lost
            return None
        correlation_id = uuid4().hex
        future = replies.expect(correlation_id)
        try:
            self._publisher.publish(
                body,
                _TOPICS,
                target,
                _work_queue(target),
                reply_to=replies.queue,
                correlation_id=correlation_id,
                expiration=timeout,
            )
            return future.result(timeout)
        except TimeoutError:
            return None
        finally:
            replies.forget(correlation_id)

    def _send(self, target: str, body: str) -> None:
        self._publisher.publish(body, _TOPICS, target, _work_queue(target))

    def _broadcast(self, topic: str, body: str) -> None:
        self._publisher.publish(body, _fanout_exchange(topic), topic)

    def _listen(
        self, topic: str, endpoint: Endpoint, host: str | None, pool_size: int
    ) -> AmqpListener:
        return AmqpListener(self._url, self._publisher, topic, endpoint, host, pool_size)

    def _close(self) -> None:
        if self._replies is not None:
            self._replies.close()
        self._publisher.close()

    def _reply_queue(self) -> _Replies:
        with self._replies_lock:
            if self._replies is None:
                self._replies = _Replies(self._url)
            return self._replies
