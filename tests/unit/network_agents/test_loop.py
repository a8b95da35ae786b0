"""The loop every network agent runs: it reports first, reconciles at start, on hints and
periodically, and ``sync`` returns once a pass that started after it has finished."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.network import topics
from stratus.network.agent import loop
from stratus.runtime.bus import Bus, connect
from stratus.runtime.config import Config


class Server:
    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def report_state(self, agent: dict[str, Any]) -> dict[str, Any]:
        self.reports.append(agent)
        return {"id": "a", "admin_state_up": True}


class Recorder(loop.Agent):
    agent_type = "Test agent"
    binary = "stratus-test-agent"
    topic = "network.test_agent"

    def __init__(self, conf: Config, bus: Bus) -> None:
        super().__init__(conf, bus)
        self.passes: list[bool] = []
        self.fail = False
        self.passed = threading.Event()
        self.wirable: set[str] = set()  # ports wire_quickly can wire
        self.quick: list[list[str]] = []

    def wire_quickly(self, port_ids: list[str]) -> bool:
        self.quick.append(port_ids)
        return set(port_ids) <= self.wirable

    def wired(self, port_ids: list[str]) -> dict[str, bool]:
        return {i: i in self.wirable for i in port_ids}

    def reconcile(self, full: bool) -> None:
        self.passes.append(full)
        self.passed.set()
        if self.fail:
            raise RuntimeError("the host said no")


@pytest.fixture
def bus() -> Iterator[Bus]:
    with connect(f"memory://{uuid.uuid4().hex}") as b:
        yield b


@pytest.fixture
def agent(tmp_path: Path, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setattr(loop, "RETRY_SECONDS", 0.05)
    path = tmp_path / "stratus.conf"
    path.write_text(
        f"[DEFAULT]\nhost = h1\ndata_dir = {tmp_path}\n"
        "[network_agent]\nresync_interval = 3600\nreport_interval = 3600\n"
    )
    return Recorder(Config(path), bus)


@pytest.fixture
def runner(agent: Recorder) -> Iterator[loop.Runner]:
    started = loop.Runner(agent)
    started.start()
    yield started
    started.stop()


@pytest.fixture
def registered(agent: Recorder, bus: Bus, runner: loop.Runner) -> Recorder:
    """The agent once the server knows it and its first pass is done."""
    bus.serve(topics.SERVER, Server())
    bus.call(agent.topic, "sync", host="h1", wait=5)
    return agent


def test_nothing_is_reconciled_before_the_server_knows_the_agent(
    agent: Recorder, bus: Bus, runner: loop.Runner
) -> None:
    assert not agent.passed.wait(0.2)  # no server: reports fail, no pass
    server = Server()
    bus.serve(topics.SERVER, server)
    assert agent.passed.wait(5)
    assert agent.passes[0] is True  # the first pass is a full one
    assert server.reports[0]["start_flag"] is True
    assert server.reports[0]["host"] == "h1"


def test_sync_waits_for_a_new_pass_and_hints_run_passes(registered: Recorder, bus: Bus) -> None:
    agent = registered
    before = len(agent.passes)
    bus.call(agent.topic, "sync", host="h1", wait=5)
    assert len(agent.passes) == before + 1 and agent.passes[-1] is False
    agent.passed.clear()
    bus.fanout(agent.topic, topics.CHANGED, network_ids=["n1"])
    assert agent.passed.wait(5)


def test_hints_wait_a_moment_for_more_of_them_and_a_sync_does_not_wait(
    registered: Recorder, bus: Bus, runner: loop.Runner
) -> None:
    agent = registered
    before = len(agent.passes)
    runner.hint_delay = 1.0
    agent.passed.clear()
    hinted = time.monotonic()
    for network in ("n1", "n2", "n3"):
        bus.fanout(agent.topic, topics.CHANGED, network_ids=[network])
    assert agent.passed.wait(5)
    assert time.monotonic() - hinted >= 1.0
    time.sleep(0.5)
    assert len(agent.passes) == before + 1  # the three hints took one pass
    runner.hint_delay = 60.0
    bus.fanout(agent.topic, topics.CHANGED, network_ids=["n4"])
    synced = time.monotonic()
    bus.call(agent.topic, "sync", host="h1", wait=30)  # the hint's pass, started at once
    assert time.monotonic() - synced < 30
    time.sleep(0.5)
    assert len(agent.passes) == before + 2
    agent.passed.clear()
    bus.cast(agent.topic, topics.CHANGED, host="h1", urgent=True)  # no delay either
    assert agent.passed.wait(30)
    assert len(agent.passes) == before + 3


def test_a_sync_naming_ports_the_agent_can_wire_quickly_runs_no_pass(
    registered: Recorder, bus: Bus
) -> None:
    agent = registered
    before = len(agent.passes)
    agent.wirable = {"p1", "p2"}
    said = bus.call(agent.topic, "sync", host="h1", wait=5, ports=["p1", "p2"])
    assert agent.quick == [["p1", "p2"]] and len(agent.passes) == before
    assert said == {"p1": True, "p2": True}
    said = bus.call(agent.topic, "sync", host="h1", wait=5, ports=["p1", "p3"])  # p3: a pass
    assert agent.quick[-1] == ["p1", "p3"] and len(agent.passes) == before + 1
    assert said == {"p1": True, "p3": False}  # as the pass reported them
    assert bus.call(agent.topic, "sync", host="h1", wait=5) is None


def test_a_failed_pass_is_reported_to_sync_and_retried(registered: Recorder, bus: Bus) -> None:
    agent = registered
    agent.fail = True
    with pytest.raises(Exception, match="the host said no"):
        bus.call(agent.topic, "sync", host="h1", wait=5)
    agent.passed.clear()
    assert agent.passed.wait(5)  # retried without a hint
    agent.fail = False
    bus.call(agent.topic, "sync", host="h1", wait=5)


def test_stop_ends_the_loop_and_a_new_runner_starts_over(agent: Recorder, bus: Bus) -> None:
    bus.serve(topics.SERVER, server := Server())
    first = loop.Runner(agent)
    first.start()
    bus.call(agent.topic, "sync", host="h1", wait=5)
    first.stop()
    again = loop.Runner(agent)
    again.start()
    try:
        bus.call(agent.topic, "sync", host="h1", wait=5)
    finally:
        again.stop()
    assert [r["start_flag"] for r in server.reports] == [True, True]
