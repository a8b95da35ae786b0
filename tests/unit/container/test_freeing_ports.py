"""A container's ports are freed even when the network service fails: what it failed to
free is recorded and freed again until it answers; a port it refuses to free is not
asked about again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from stratus.container.models import UnfreedPort
from stratus.container.networking import Networking
from stratus.runtime import migrations
from stratus.runtime.clients.network import NetworkError
from stratus.runtime.db import Database


class Network:
    """The network service as far as freeing goes: answers ``status`` (None: frees)."""

    def __init__(self, status: int | None, owner: str = "compute:kuryr", revision: int = 7) -> None:
        self.status = status
        self.owner = owner  # the given port's device owner now
        self.revision = revision  # the given port's revision when it is unbound
        self.calls: list[tuple[str, str]] = []

    def show_port(self, port_id: str) -> dict[str, Any]:
        self._answer("show", port_id)
        return {
            "id": port_id,
            "device_id": "a-container-gone",
            "device_owner": self.owner,
            "revision_number": 7,
        }

    def _answer(self, what: str, port_id: str, status: int | None = None) -> None:
        self.calls.append((what, port_id))
        status = status or self.status
        if status is not None:
            raise NetworkError(f"Cannot {what} port {port_id}: {status}", status)

    def delete_port(self, port_id: str) -> None:
        self._answer("delete", port_id)

    def unbind_port(self, port_id: str, revision: int | None = None) -> None:
        changed = revision is not None and revision != self.revision
        self._answer("unbind", port_id, 412 if changed else None)


NETS: list[dict[str, Any]] = [
    {"port_id": "made", "preserve_on_delete": False},
    {"port_id": "given", "preserve_on_delete": True},
]
FREED = [("delete", "made"), ("unbind", "given")]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'container.sqlite'}")
    migrations.upgrade("container", database)
    yield database
    database.dispose()


def unfreed(db: Database) -> dict[str, bool]:
    with db.session() as session:
        return {row.port_id: row.preserve for row in session.scalars(sa.select(UnfreedPort))}


def test_ports_the_network_service_failed_to_free_are_freed_once_it_answers(
    db: Database,
) -> None:
    down = Network(status=503)
    Networking(down, db).free(NETS)  # type: ignore[arg-type]
    assert down.calls == FREED  # one try each: no request waits on a failing service
    assert unfreed(db) == {"made": False, "given": True}

    Networking(down, db).free_unfreed()  # type: ignore[arg-type]
    assert unfreed(db) == {"made": False, "given": True}

    back = Network(status=None)
    Networking(back, db).free_unfreed()  # type: ignore[arg-type]
    assert back.calls == [("delete", "made"), ("show", "given"), ("unbind", "given")]
    assert unfreed(db) == {}


def test_a_given_port_taken_again_meanwhile_is_left_to_its_new_holder(db: Database) -> None:
    Networking(Network(status=503), db).free(NETS)  # type: ignore[arg-type]
    back = Network(status=None, owner="compute:nova")  # its user gave it to a server since
    Networking(back, db).free_unfreed()  # type: ignore[arg-type]
    assert back.calls == [("delete", "made"), ("show", "given")]
    assert unfreed(db) == {}


def test_a_port_the_network_service_refuses_to_free_is_not_asked_again(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = Network(status=409)
    Networking(refusing, db).free(NETS)  # type: ignore[arg-type]
    assert refusing.calls == FREED
    assert unfreed(db) == {}
    assert "port made could not be freed: Cannot delete port made: 409" in caplog.text


def test_without_a_database_a_port_that_could_not_be_freed_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Networking(Network(status=503)).free(NETS)  # type: ignore[arg-type]
    assert "port given could not be freed yet" in caplog.text


def test_a_given_port_that_changed_since_it_was_read_is_tried_again(db: Database) -> None:
    Networking(Network(status=503), db).free(NETS)  # type: ignore[arg-type]
    changing = Network(status=None, revision=8)  # changed between the read and the unbind
    Networking(changing, db).free_unfreed()  # type: ignore[arg-type]
    assert changing.calls == [("delete", "made"), ("show", "given"), ("unbind", "given")]
    assert unfreed(db) == {"given": True}
