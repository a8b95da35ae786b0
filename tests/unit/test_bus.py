"""The message bus, every behaviour on both transports: in-process and RabbitMQ."""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import pytest
from amqp.exceptions import NotFound, PreconditionFailed, ResourceLocked
from kombu import Connection, Exchange, Queue

from stratus.runtime.bus import Bus, BusError, BusTimeout, RemoteError, connect, current_context

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TRANSPORTS = [
    pytest.param("memory://", id="memory"),
    pytest.param(AMQP_URL, id="amqp", marks=pytest.mark.amqp),
]
HOSTS = ("h1", "h2")


class Recorder:
    """An endpoint that answers, fails or blocks on request, and records what it is sent."""

    def __init__(self, name: str = "r") -> None:
        self.name = name
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.blocked = threading.Event()
        self.release = threading.Event()

    def whoami(self) -> str:
        return self.name

    def echo(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def note(self, **kwargs: Any) -> None:
        self.received.put(kwargs)

    def append(self, items: list[str]) -> list[str]:
        items.append("handler")
        return items

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def sleep(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    def block(self) -> str:
        self.blocked.set()
        self.release.wait(10)
        return "released"

    def unserialisable(self) -> set[int]:
        return {1, 2}

    def context(self) -> dict[str, Any]:
        return dict(current_context())

    def _private(self) -> str:
        return "secret"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
    return result


@pytest.fixture(params=TRANSPORTS)
def url(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def topic(url: str) -> Iterator[str]:
    """A topic no other test uses; on RabbitMQ its named queues are deleted afterwards."""
    name = f"test-{uuid4().hex[:12]}"
    yield name
    if url.startswith("amqp"):
        with Connection(AMQP_URL) as conn:
            channel = conn.channel()
            for queue_name in (name, *(f"{name}.{host}" for host in HOSTS)):
                channel.queue_delete(queue_name)
            channel.exchange_delete(f"{name}_fanout")


# Both buses depend on ``topic`` so that they close before its queues are deleted.
@pytest.fixture
def server(url: str, topic: str) -> Iterator[Bus]:
    with connect(url) as bus:
        yield bus


@pytest.fixture
def client(url: str, topic: str) -> Iterator[Bus]:
    with connect(url) as bus:
        yield bus


def test_call_returns_the_result(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder("a"))
    assert client.call(topic, "whoami") == "a"


def test_kwargs_round_trip_through_json(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder())
    sent = {"n": 1, "f": 2.5, "s": "é", "none": None, "nested": {"list": [1, {"x": True}]}}
    assert client.call(topic, "echo", **sent, pair=(1, 2)) == {**sent, "pair": [1, 2]}


def test_the_handler_never_shares_the_callers_objects(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder())
    items = ["caller"]
    assert client.call(topic, "append", items=items) == ["caller", "handler"]
    assert items == ["caller"]


def test_a_remote_exception_reaches_the_caller(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder())
    with pytest.raises(RemoteError) as caught:
        client.call(topic, "fail", message="disk full")
    assert caught.value.exc_type == "ValueError"
    assert caught.value.message == "disk full"
    assert str(caught.value) == "ValueError: disk full"
    assert "raise ValueError(message)" in caught.value.remote_traceback


@pytest.mark.parametrize("method", ["missing", "_private", "__init__"])
def test_unknown_and_private_methods_are_refused(
    client: Bus, server: Bus, topic: str, method: str
) -> None:
    server.serve(topic, Recorder())
    with pytest.raises(RemoteError) as caught:
        client.call(topic, method)
    assert caught.value.exc_type == "UnknownMethod"
    assert repr(method) in caught.value.message


def test_a_call_nobody_listens_to_times_out(client: Bus, topic: str) -> None:
    started = time.monotonic()
    with pytest.raises(BusTimeout):
        client.call(topic, "whoami", timeout=0.2)
    assert time.monotonic() - started < 2


def test_a_call_whose_handler_is_too_slow_times_out(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder("a"))
    with pytest.raises(BusTimeout):
        client.call(topic, "sleep", seconds=0.4, timeout=0.1)
    # The late reply is dropped, not taken for the next call's.
    assert client.call(topic, "whoami", timeout=5) == "a"


def test_a_cast_is_delivered(client: Bus, server: Bus, topic: str) -> None:
    recorder = Recorder()
    server.serve(topic, recorder)
    assert client.cast(topic, "note", value=1) is None
    assert recorder.received.get(timeout=5) == {"value": 1}


def test_a_failing_cast_is_logged_with_its_traceback(
    client: Bus, server: Bus, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="stratus.bus")
    server.serve(topic, Recorder())
    client.cast(topic, "fail", message="disk full")
    record = wait_for(lambda: next((r for r in caplog.records if r.name == "stratus.bus"), None))
    assert f"{topic}.fail failed" in record.getMessage()
    assert record.exc_info is not None
    assert "disk full" in caplog.text


def test_the_context_reaches_the_handler(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder())
    assert client.call(topic, "context", _context={"request_id": "req-1"}) == {
        "request_id": "req-1"
    }
    assert client.call(topic, "context") == {}


def test_work_is_shared_round_robin(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder("a"))
    server.serve(topic, Recorder("b"))
    answers = [client.call(topic, "whoami") for _ in range(4)]
    assert sorted(answers) == ["a", "a", "b", "b"]


def test_a_host_gets_only_its_own_work(client: Bus, server: Bus, topic: str) -> None:
    first, second = Recorder("h1"), Recorder("h2")
    server.serve(topic, first, host="h1")
    server.serve(topic, second, host="h2")
    assert {client.call(topic, "whoami", host="h1") for _ in range(4)} == {"h1"}
    client.cast(topic, "note", host="h2", value=2)
    assert second.received.get(timeout=5) == {"value": 2}
    assert first.received.empty()
    # Work sent to the topic, with no host, is shared by both.
    assert {client.call(topic, "whoami") for _ in range(4)} == {"h1", "h2"}


def test_a_fanout_reaches_every_listener_once(client: Bus, server: Bus, topic: str) -> None:
    recorders = [Recorder("a"), Recorder("b"), Recorder("c")]
    server.serve(topic, recorders[0])
    server.serve(topic, recorders[1])
    server.serve(topic, recorders[2], host="h1")
    client.fanout(topic, "note", value=3)
    for recorder in recorders:
        assert recorder.received.get(timeout=5) == {"value": 3}
    client.call(topic, "whoami")  # a later message: any duplicate fanout would be in by now
    assert all(recorder.received.empty() for recorder in recorders)


def test_a_slow_call_does_not_block_another(client: Bus, server: Bus, topic: str) -> None:
    recorder = Recorder("a")
    server.serve(topic, recorder)
    answers: queue.Queue[str] = queue.Queue()
    slow = threading.Thread(target=lambda: answers.put(client.call(topic, "block")))
    slow.start()
    try:
        assert recorder.blocked.wait(5)
        assert client.call(topic, "whoami", timeout=5) == "a"
        assert answers.empty()
    finally:
        recorder.release.set()
        slow.join()
    assert answers.get_nowait() == "released"


def test_a_slow_cast_does_not_block_another(client: Bus, server: Bus, topic: str) -> None:
    recorder = Recorder()
    server.serve(topic, recorder)
    client.cast(topic, "block")
    try:
        assert recorder.blocked.wait(5)
        client.cast(topic, "note", value=4)
        assert recorder.received.get(timeout=5) == {"value": 4}
    finally:
        recorder.release.set()


def test_arguments_json_cannot_carry_are_refused_at_the_caller(
    client: Bus, server: Bus, topic: str
) -> None:
    recorder = Recorder()
    server.serve(topic, recorder)
    with pytest.raises(BusError, match="not JSON-serialisable"):
        client.call(topic, "note", value=object())
    with pytest.raises(BusError, match="not JSON-serialisable"):
        client.cast(topic, "note", value={1, 2})
    with pytest.raises(BusError, match="not JSON-serialisable"):
        client.fanout(topic, "note", value=b"bytes")
    client.call(topic, "whoami")
    assert recorder.received.empty()


def test_a_result_json_cannot_carry_is_a_remote_error(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder())
    with pytest.raises(RemoteError) as caught:
        client.call(topic, "unserialisable")
    assert caught.value.exc_type == "TypeError"
    assert "not JSON-serialisable" in caught.value.message


def test_a_stopped_listener_takes_no_more_work(client: Bus, server: Bus, topic: str) -> None:
    server.serve(topic, Recorder("a")).stop()
    server.serve(topic, Recorder("b"))
    assert {client.call(topic, "whoami", timeout=5) for _ in range(3)} == {"b"}


def test_close_leaves_no_threads_and_refuses_more_work(url: str, topic: str) -> None:
    before = set(threading.enumerate())
    bus = connect(url)
    recorder = Recorder("a")
    bus.serve(topic, recorder, host="h1")
    assert bus.call(topic, "whoami") == "a"
    bus.cast(topic, "note", value=1)
    bus.fanout(topic, "note", value=2)
    assert sorted(recorder.received.get(timeout=5)["value"] for _ in range(2)) == [1, 2]
    assert set(threading.enumerate()) - before
    bus.close()
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(BusError, match="closed"):
        bus.call(topic, "whoami")
    bus.close()  # a second close is harmless


@pytest.mark.parametrize("url", ["memory://"], ids=["memory"])
def test_memory_buses_meet_only_on_the_same_broker_name(topic: str) -> None:
    with (
        connect("memory://a") as server,
        connect("memory://a") as same,
        connect("memory://b") as other,
    ):
        server.serve(topic, Recorder("a"))
        assert same.call(topic, "whoami") == "a"
        with pytest.raises(BusTimeout):
            other.call(topic, "whoami", timeout=0.2)


@pytest.mark.amqp
@pytest.mark.parametrize("url", [AMQP_URL], ids=["amqp"])
def test_rabbit_urls_name_the_amqp_transport(topic: str) -> None:
    with connect(AMQP_URL.replace("amqp://", "rabbit://")) as bus:
        bus.serve(topic, Recorder("a"))
        assert bus.call(topic, "whoami", timeout=5) == "a"


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(BusError, match="unsupported transport"):
        connect("kafka://broker:9092")


@pytest.mark.amqp
def test_an_unreachable_broker_is_a_bus_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    with pytest.raises(BusError, match="cannot reach"):
        connect(f"amqp://guest:guest@127.0.0.1:{port}/")


@pytest.mark.amqp
@pytest.mark.parametrize("url", [AMQP_URL], ids=["amqp"])
def test_close_leaves_no_private_queues(url: str, topic: str) -> None:
    """The reply queue and the listener's fanout queue go with the bus; the work queue stays."""
    with Connection(AMQP_URL) as conn, connect(url) as bus:
        bus.serve(topic, Recorder())
        # Stand in for a listener on host h1, to learn the reply queue from a request.
        requests: queue.Queue[str] = queue.Queue()
        exchange = Exchange("stratus", "topic", durable=True)
        standin = Queue(f"{topic}.h1", exchange, f"{topic}.h1", durable=True).bind(conn.channel())
        standin.declare()
        standin.consume(callback=lambda m: requests.put(m.properties["reply_to"]), no_ack=True)
        with pytest.raises(BusTimeout):
            bus.call(topic, "whoami", host="h1", timeout=0.3)
        conn.drain_events(timeout=5)
        reply_queue = requests.get_nowait()
        with pytest.raises(ResourceLocked):  # it exists, exclusive to the bus
            conn.channel().queue_declare(reply_queue, passive=True)
        with pytest.raises(PreconditionFailed):  # the listener's fanout queue is bound to it
            conn.channel().exchange_delete(f"{topic}_fanout", if_unused=True)
        bus.close()
        with pytest.raises(NotFound):
            conn.channel().queue_declare(reply_queue, passive=True)
        conn.channel().exchange_delete(f"{topic}_fanout", if_unused=True)
        assert conn.channel().queue_declare(topic, passive=True).queue == topic


@pytest.mark.amqp
@pytest.mark.parametrize("url", [AMQP_URL], ids=["amqp"])
def test_work_sent_before_its_first_listener_waits_for_it(url: str, topic: str) -> None:
    """As on a new broker, where an agent's first report goes out before the server it
    reports to has started listening: the queue is the sender's to declare too."""
    with connect(url) as client, connect(url) as server, ThreadPoolExecutor(1) as pool:
        client.cast(topic, "note", value=1)
        answer = pool.submit(client.call, topic, "whoami", timeout=10)
        time.sleep(0.3)  # both sent, nobody listening yet
        recorder = Recorder("late")
        server.serve(topic, recorder)
        assert recorder.received.get(timeout=5) == {"value": 1}
        assert answer.result(timeout=10) == "late"


class _Proxy:
    """A TCP relay to RabbitMQ whose connections a test can cut."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closing = threading.Event()
        self._threads = [threading.Thread(target=self._accept)]
        self._threads[0].start()

    def cut(self) -> None:
        """End every relayed connection as a broker going away does: no reset, just EOF."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self._threads[0].join()
        self.cut()
        for thread in self._threads:
            thread.join()
        for sock in self._sockets:
            sock.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(("127.0.0.1", 5672))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=_relay, args=(source, sink))
                thread.start()
                self._threads.append(thread)


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)


@pytest.mark.amqp
@pytest.mark.parametrize("url", [AMQP_URL], ids=["amqp"])
def test_the_bus_reconnects_after_losing_the_broker(url: str, topic: str) -> None:
    proxy = _Proxy()
    try:
        with connect(f"amqp://guest:guest@127.0.0.1:{proxy.port}/") as bus:
            recorder = Recorder("a")
            bus.serve(topic, recorder)
            assert bus.call(topic, "whoami") == "a"
            proxy.cut()
            # Sent while every connection of the bus is down: published again, not lost.
            bus.cast(topic, "note", value=1)
            assert recorder.received.get(timeout=10) == {"value": 1}
            assert bus.call(topic, "whoami", timeout=10) == "a"
    finally:
        proxy.close()
