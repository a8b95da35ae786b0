"""Message bus calls: rate and latency at concurrency 1 and 8 on both transports, each
against a floor measured in the same run: a direct method call for the in-process bus,
a raw kombu publish/consume round trip (no bus in between) for RabbitMQ."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from uuid import uuid4

from common import Rate, print_table
from kombu import Connection, Consumer, Producer, Queue
from kombu.message import Message

from stratus.runtime.bus import connect

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SECONDS = 2.0  # per measurement
REQUEST = '{"method": "echo", "kwargs": {"value": 1}}'


class Echo:
    def echo(self, value: int) -> int:
        return value


def measure(operation: Callable[[], object], concurrency: int) -> Rate:
    """Run ``operation`` from ``concurrency`` threads for ``SECONDS``."""
    operation()  # warm up (connections, reply queues)
    deadline = time.perf_counter() + SECONDS

    def worker(_: int) -> list[float]:
        latencies = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            operation()
            latencies.append(time.perf_counter() - start)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(
            value for chunk in pool.map(worker, range(concurrency)) for value in chunk
        )
    elapsed = time.perf_counter() - started
    return Rate(
        per_second=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    )


class RawClient:
    """One thread's end of the raw round trip: publish, then read the reply itself."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._conn = Connection(AMQP_URL)
        channel = self._conn.channel()
        self._producer = Producer(channel)
        self._reply_queue = f"bench-reply-{uuid4().hex}"
        self._replies: list[Message] = []
        queue = Queue(self._reply_queue, exclusive=True, auto_delete=True)
        Consumer(channel, [queue], on_message=self._replies.append, no_ack=True).consume()

    def round_trip(self) -> None:
        self._producer.publish(
            REQUEST,
            exchange="",
            routing_key=self._target,
            reply_to=self._reply_queue,
            correlation_id="1",
            content_type="application/json",
            content_encoding="utf-8",
        )
        while not self._replies:
            self._conn.drain_events(timeout=5)
        self._replies.clear()

    def close(self) -> None:
        self._conn.release()


@contextmanager
def raw_round_trip() -> Iterator[Callable[[], None]]:
    """The AMQP floor: a consumer thread that sends each message straight back."""
    target = f"bench-raw-{uuid4().hex}"
    ready, stop = threading.Event(), threading.Event()

    def serve() -> None:
        with Connection(AMQP_URL) as conn:
            producer = Producer(conn.channel())

            def reply(message: Message) -> None:
                properties = message.properties
                producer.publish(
                    message.body,
                    exchange="",
                    routing_key=properties["reply_to"],
                    correlation_id=properties["correlation_id"],
                    content_type="application/json",
                    content_encoding="utf-8",
                )

            queue = Queue(target, auto_delete=True)
            with conn.Consumer([queue], on_message=reply, no_ack=True):
                ready.set()
                while not stop.is_set():
                    with suppress(TimeoutError):
                        conn.drain_events(timeout=0.1)

    server = threading.Thread(target=serve)
    server.start()
    ready.wait(10)
    local = threading.local()
    clients: list[RawClient] = []

    def round_trip() -> None:
        if not hasattr(local, "client"):
            local.client = RawClient(target)
            clients.append(local.client)
        local.client.round_trip()

    try:
        yield round_trip
    finally:
        for client in clients:
            client.close()
        stop.set()
        server.join()


def bus_rows(url: str, floor_name: str, floor: Callable[[], object]) -> list[list[object]]:
    topic = f"bench-{uuid4().hex[:12]}"
    rows: list[list[object]] = []
    with connect(url) as server, connect(url) as client:
        server.serve(topic, Echo())
        for concurrency in (1, 8):
            bus = measure(lambda: client.call(topic, "echo", value=1), concurrency)
            raw = measure(floor, concurrency)
            rows.append(
                [
                    url.split(":")[0],
                    concurrency,
                    bus.per_second,
                    bus.p50_ms * 1000,
                    bus.p99_ms * 1000,
                    floor_name,
                    raw.per_second,
                    raw.p50_ms * 1000,
                    bus.p50_ms / raw.p50_ms,
                    raw.per_second / bus.per_second,
                ]
            )
    if url.startswith("amqp"):
        with Connection(AMQP_URL) as conn:
            conn.channel().queue_delete(topic)
            conn.channel().exchange_delete(f"{topic}_fanout")
    return rows


def main() -> None:
    echo = Echo()
    rows = bus_rows("memory://", "method call", lambda: echo.echo(value=1))
    with raw_round_trip() as round_trip:
        rows += bus_rows(AMQP_URL, "raw kombu", round_trip)
    print_table(
        f"Message bus call (echo one int), {SECONDS:g} s per measurement",
        [
            "transport",
            "concurrency",
            "calls/s",
            "p50 us",
            "p99 us",
            "floor",
            "floor/s",
            "floor p50 us",
            "x slower p50",
            "x slower rate",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
