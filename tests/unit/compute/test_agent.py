"""The compute agent reconciles its hosts with the database: at start it finishes or
undoes what a previous run left half done, and it reports power states and removes
domains of deleted servers. Real conductor, fake driver, in-process bus."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from stratus.compute import states
from stratus.compute.agent.manager import ComputeAgent
from stratus.compute.conductor.manager import STUCK_BUILD_SECONDS, TOPIC, Conductor
from stratus.compute.models import ComputeNode, Instance, InstanceFault, Migration, Service
from stratus.compute.networking import Networking
from stratus.compute.scheduler.manager import TOPIC as SCHEDULER
from stratus.compute.scheduler.manager import Scheduler
from stratus.compute.virt.fake import FakeDriver
from stratus.runtime.bus import Bus, connect
from stratus.runtime.config import Config
from stratus.runtime.db import Database, new_id, utcnow

FLAVOR = {"id": "1", "name": "m1.tiny", "vcpus": 1, "memory_mb": 512, "root_gb": 1}


@pytest.fixture
def bus() -> Iterator[Bus]:
    with connect(f"memory://agent-{uuid.uuid4().hex}") as bus:
        yield bus


@pytest.fixture
def conductor(conf: Config, db: Database, bus: Bus) -> Conductor:
    conductor = Conductor(conf, db, bus)
    bus.serve(TOPIC, conductor)
    return conductor


@pytest.fixture
def driver(conf: Config) -> FakeDriver:
    return FakeDriver(conf)


@pytest.fixture
def make_agent(conf: Config, bus: Bus, driver: FakeDriver) -> Iterator[Callable[[], ComputeAgent]]:
    started: list[ComputeAgent] = []

    def make() -> ComputeAgent:
        agent = ComputeAgent(conf, bus, driver, Networking(None), None)  # type: ignore[arg-type]
        agent.start()
        started.append(agent)
        return agent

    yield make
    for agent in started:
        agent.stop()


def add_server(db: Database, host: str, **values: Any) -> str:
    server_id = new_id()
    defaults: dict[str, Any] = {
        "display_name": "vm",
        "hostname": "vm",
        "project_id": "p",
        "user_id": "u",
        "flavor": FLAVOR,
        "vm_state": states.ACTIVE,
        "task_state": None,
        "power_state": states.RUNNING,
        "host": host,
        "node": host,
        "reservation_id": "r-1",
    }
    with db.session() as session:
        session.add(Instance(uuid=server_id, **{**defaults, **values}))
    return server_id


def server(db: Database, server_id: str) -> Instance:
    with db.session() as session:
        return session.get(Instance, server_id)


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_start_reports_the_host(db, conductor, make_agent, driver) -> None:
    make_agent()
    host = driver.hosts()[0]
    with db.session() as session:
        node = session.query(ComputeNode).one()
        service = session.query(Service).filter_by(host=host).one()
    assert (node.host, node.vcpus, node.reserved_memory_mb) == (host, 16, 512)
    assert service.binary == "nova-compute" and service.last_seen_up is not None


def test_recover_finishes_a_delete(db, conductor, make_agent, driver) -> None:
    host = driver.hosts()[0]
    server_id = add_server(db, host, task_state=states.DELETING)
    driver.spawn(
        {"uuid": server_id, "host": host, "name": "x", "hostname": "vm", "flavor": FLAVOR}, []
    )
    make_agent()
    assert server(db, server_id).deleted
    assert server_id not in driver.list_instances(host)


def test_recover_fails_an_interrupted_build(db, conductor, make_agent, driver) -> None:
    host = driver.hosts()[0]
    server_id = add_server(db, host, vm_state=states.BUILDING, task_state=states.SPAWNING)
    make_agent()
    eventually(lambda: server(db, server_id).vm_state == states.ERROR)
    with db.session() as session:
        fault = session.query(InstanceFault).filter_by(instance_uuid=server_id).one()
    assert "restarted during the build" in fault.message


def test_recover_redoes_power_operations(db, conductor, make_agent, driver) -> None:
    host = driver.hosts()[0]
    stopping = add_server(db, host, task_state=states.POWERING_OFF)
    starting = add_server(db, host, task_state=states.POWERING_ON, vm_state=states.STOPPED)
    for server_id in (stopping, starting):
        instance = {
            "uuid": server_id,
            "host": host,
            "name": "x",
            "hostname": "vm",
            "flavor": FLAVOR,
        }
        driver.spawn(instance, [])
    driver.power_off({"uuid": starting, "host": host, "name": "x"})
    make_agent()
    assert server(db, stopping).vm_state == states.STOPPED
    assert server(db, starting).vm_state == states.ACTIVE
    assert driver.list_instances(host) == {stopping: states.SHUTDOWN, starting: states.RUNNING}


def test_recover_clears_other_tasks_and_finds_lost_domains(
    db, conductor, make_agent, driver
) -> None:
    host = driver.hosts()[0]
    server_id = add_server(db, host, task_state=states.PAUSING)
    make_agent()  # no domain at all: the server is found shut off
    eventually(lambda: server(db, server_id).vm_state == states.STOPPED)
    assert server(db, server_id).task_state is None
    assert server(db, server_id).power_state == states.NOSTATE


def test_power_state_changed_behind_our_back(db, conductor, make_agent, driver) -> None:
    host = driver.hosts()[0]
    server_id = add_server(db, host)
    instance = {"uuid": server_id, "host": host, "name": "x", "hostname": "vm", "flavor": FLAVOR}
    driver.spawn(instance, [])
    agent = make_agent()
    assert server(db, server_id).vm_state == states.ACTIVE
    driver.power_off(instance)
    agent.sync_power_states()
    eventually(lambda: server(db, server_id).vm_state == states.STOPPED)
    assert server(db, server_id).power_state == states.SHUTDOWN


def test_domains_of_deleted_servers_go_but_resizes_keep_theirs(
    db, conductor, make_agent, driver
) -> None:
    host = driver.hosts()[0]
    deleted = add_server(db, host, deleted=True, vm_state=states.DELETED)
    moved = add_server(db, "elsewhere")
    resizing = add_server(db, "elsewhere", vm_state=states.RESIZED)
    with db.session() as session:
        session.add(
            Migration(
                uuid=new_id(),
                instance_uuid=resizing,
                status="finished",
                source_compute=host,
                dest_compute="elsewhere",
            )
        )
    for server_id in (deleted, moved, resizing):
        driver.spawn(
            {"uuid": server_id, "host": host, "name": "x", "hostname": "vm", "flavor": FLAVOR}, []
        )
    make_agent()
    assert set(driver.list_instances(host)) == {resizing}


def test_abandoned_builds_are_scheduled_again(conf, db, bus, conductor, make_agent, driver) -> None:

    bus.serve(SCHEDULER, Scheduler(conf, db, cache_ttl=0))
    make_agent()
    old = utcnow() - timedelta(seconds=STUCK_BUILD_SECONDS + 1)
    stuck = add_server(
        db,
        None,
        vm_state=states.BUILDING,
        task_state=states.SCHEDULING,
        node=None,
        created_at=old,
        request={},
    )
    recent = add_server(
        db, None, vm_state=states.BUILDING, task_state=states.SCHEDULING, node=None, request={}
    )
    conductor.heal_builds()
    eventually(lambda: server(db, stuck).vm_state == states.ACTIVE)
    assert server(db, stuck).host == driver.hosts()[0]
    assert server(db, recent).task_state == states.SCHEDULING
    conductor.heal_builds()  # nothing left to take
