"""A capsule goes, with its one port, when its last container is reported gone: also when
its containers' reports come at the same moment (two API workers on PostgreSQL or
MariaDB each saw the other's container still there, and the capsule and its port
stayed)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from stratus.container.models import Capsule, Container
from stratus.container.networking import Networking
from stratus.container.rpc import Conductor
from stratus.runtime import migrations
from stratus.runtime.db import Database, new_id
from stratus.testing.cloud import scratch_database

CAPSULES = 20
MEMBERS = 2


class Freed:
    """The network service, as far as freeing ports goes: which ports were deleted."""

    def __init__(self) -> None:
        self.deleted: set[str] = set()

    def delete_port(self, port_id: str) -> None:
        self.deleted.add(port_id)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'container.sqlite'}"
        yield from _migrated(url)
        return
    port = 5432 if kind == "postgresql" else 3306
    with socket.socket() as sock:
        sock.settimeout(0.2)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            pytest.skip(f"no {kind} on 127.0.0.1:{port}")
    with scratch_database(kind) as url:
        yield from _migrated(url)


def _migrated(url: str) -> Iterator[Database]:
    database = Database(url)
    try:
        migrations.upgrade("container", database)
        yield database
    finally:
        database.dispose()


def _capsule(db: Database) -> tuple[str, list[str]]:
    """A capsule of MEMBERS containers on one port (each member's record lists it)."""
    capsule_id = new_id()
    nets = [{"port_id": "port-" + capsule_id, "preserve_on_delete": False}]
    members = [new_id() for _ in range(MEMBERS)]
    with db.session() as session:
        session.add(Capsule(uuid=capsule_id, project_id="p", user_id="u"))
        for uuid in members:
            session.add(Container(**_member(uuid, capsule_id, nets)))
    return capsule_id, members


def _member(uuid: str, capsule_id: str, nets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "project_id": "p",
        "user_id": "u",
        "image": "busybox",
        "image_driver": "glance",
        "cpu": 1.0,
        "memory": 64,
        "status": "Deleting",
        "capsule_id": capsule_id,
        "nets": nets,
    }


def test_members_reported_gone_together_take_the_capsule_and_its_port(db: Database) -> None:
    freed = Freed()
    conductor = Conductor(db, Networking(freed))  # type: ignore[arg-type]
    capsules = [_capsule(db) for _ in range(CAPSULES)]
    failures: list[BaseException] = []

    def report(barrier: threading.Barrier, uuid: str) -> None:
        try:
            barrier.wait()
            conductor.report_deleted(uuid)
        except BaseException as exc:  # noqa: BLE001 - a report that failed is the finding
            failures.append(exc)

    for _, members in capsules:
        barrier = threading.Barrier(len(members))
        threads = [threading.Thread(target=report, args=(barrier, m)) for m in members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Container)) == 0
        assert session.scalars(sa.select(Capsule.uuid)).all() == []
    assert freed.deleted == {"port-" + capsule_id for capsule_id, _ in capsules}
