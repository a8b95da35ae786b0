"""The container agent on the real Docker Engine: a container that dies is reported at once
(from Docker's events), and a restarted agent converges (orphans removed, lost containers
reported). The API's conductor is a recorder on an in-process bus."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from stratus.container.agent import AgentWorker
from stratus.container.agent.docker import DockerDriver
from stratus.container.agent.manager import ContainerAgent
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.runtime.bus import connect

if TYPE_CHECKING:
    from conftest import Made


class Recorder:
    """Stands in for the API's conductor: wants ``wanted``, records what is reported."""

    def __init__(self) -> None:
        self.wanted: list[dict[str, Any]] = []
        self.states: dict[str, tuple[str, str | None, str | None]] = {}
        self.deleted: set[str] = set()
        self.hosts: list[str | None] = []
        self.changed = threading.Condition()

    def report_host(
        self,
        hostname: str,
        zone: str,
        cpus: int,
        memory_mb: int,
        driver_status: str | None,
        console_url: str | None = None,
    ) -> None:
        self.hosts.append(driver_status)

    def report_state(
        self,
        uuid: str,
        status: str,
        reason: str | None = None,
        detail: str | None = None,
        addresses: dict[str, Any] | None = None,
        done: bool = True,
    ) -> None:
        with self.changed:
            self.states[uuid] = (status, reason, detail)
            self.changed.notify_all()

    def report_deleted(self, uuid: str) -> None:
        with self.changed:
            self.deleted.add(uuid)
            self.changed.notify_all()

    def host_containers(self, hostname: str) -> list[dict[str, Any]]:
        return self.wanted

    def wait(self, check: Any, timeout: float = 10) -> None:
        with self.changed:
            assert self.changed.wait_for(check, timeout), (self.states, self.deleted)


class FakeRuntime:
    def __init__(self, bus: Any) -> None:
        self.bus = bus


@pytest.fixture
def setup(made: Made) -> Iterator[tuple[ContainerAgent, Recorder]]:
    bus = connect(f"memory://{uuid.uuid4()}")
    recorder = Recorder()
    bus.serve(CONDUCTOR_TOPIC, recorder)
    driver = DockerDriver("unix:///var/run/docker.sock", "node1")
    agent = ContainerAgent(bus, driver, "node1", "nova", lambda image_id: made.image_data)
    try:
        yield agent, recorder
    finally:
        bus.close()


def test_a_container_that_dies_is_reported_at_once(
    setup: tuple[ContainerAgent, Recorder], made: Made
) -> None:
    agent, recorder = setup
    worker = AgentWorker(FakeRuntime(agent.bus), agent, interval=600)  # type: ignore[arg-type]
    spec = made.spec(command=["sh", "-c", "sleep 1; exit 7"])
    recorder.wanted = [{**spec, "status": "Creating", "status_detail": None}]
    worker.start()
    try:
        agent.create(spec, start=True)
        recorder.wait(lambda: recorder.states.get(spec["uuid"], ("",))[0] == "Running")
        started = time.monotonic()
        recorder.wait(lambda: recorder.states[spec["uuid"]][0] == "Stopped")
        assert time.monotonic() - started < 5  # not the 600 s reconcile interval
        detail = recorder.states[spec["uuid"]][2]
        assert detail is not None and detail.startswith("Exited (7)")
    finally:
        worker.stop()


def test_a_restarted_agent_converges(setup: tuple[ContainerAgent, Recorder], made: Made) -> None:
    agent, recorder = setup
    kept, orphan, lost, deleting = made.spec(), made.spec(), made.spec(), made.spec()
    for spec in (kept, orphan, deleting):
        agent.driver.create(spec, made.image_data)
    agent.driver.start(kept["uuid"])
    recorder.wanted = [
        {**kept, "status": "Created", "status_detail": None},  # it ran while we were away
        {**lost, "status": "Running", "status_detail": None},  # gone from Docker
        {**deleting, "status": "Deleting", "status_detail": None},  # delete interrupted
    ]
    agent.reconcile()
    recorder.wait(lambda: {kept["uuid"], lost["uuid"]} <= recorder.states.keys())
    recorder.wait(lambda: deleting["uuid"] in recorder.deleted)
    assert recorder.states[kept["uuid"]][0] == "Running"
    assert recorder.states[lost["uuid"]][:2] == ("Error", "The container is gone from the engine.")
    assert set(agent.driver.states()) & {orphan["uuid"], deleting["uuid"]} == set()
    assert recorder.hosts == [None]
