"""A container's ports are freed even when the network service fails a try or two; a
port it refuses to free is not asked about again."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.container import networking
from stratus.container.networking import Networking
from stratus.runtime.clients.network import NetworkError


class FlakyNetwork:
    """Fails the first ``failures`` requests about each port."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.calls: list[tuple[str, str]] = []

    def _answer(self, what: str, port_id: str) -> None:
        self.calls.append((what, port_id))
        if sum(1 for _, p in self.calls if p == port_id) <= self.failures:
            raise NetworkError(f"Cannot {what} port {port_id}: {self.status}", self.status)

    def delete_port(self, port_id: str) -> None:
        self._answer("delete", port_id)

    def unbind_port(self, port_id: str) -> None:
        self._answer("unbind", port_id)


NETS: list[dict[str, Any]] = [
    {"port_id": "made", "preserve_on_delete": False},
    {"port_id": "given", "preserve_on_delete": True},
]


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networking, "FREE_PAUSE", 0)


def test_a_port_the_network_service_fails_to_free_is_tried_again() -> None:
    api = FlakyNetwork(failures=networking.FREE_ATTEMPTS - 1)
    Networking(api).free(NETS)  # type: ignore[arg-type]
    attempts = [("delete", "made")] * networking.FREE_ATTEMPTS
    assert api.calls == attempts + [("unbind", "given")] * networking.FREE_ATTEMPTS


def test_a_port_that_cannot_be_freed_is_left_and_the_others_still_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FlakyNetwork(failures=networking.FREE_ATTEMPTS)
    Networking(api).free(NETS)  # type: ignore[arg-type]
    assert len(api.calls) == 2 * networking.FREE_ATTEMPTS
    assert "port made could not be freed" in caplog.text
    assert "port given could not be freed" in caplog.text


def test_a_port_the_network_service_refuses_to_free_is_not_asked_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FlakyNetwork(failures=1, status=409)
    Networking(api).free(NETS)  # type: ignore[arg-type]
    assert api.calls == [("delete", "made"), ("unbind", "given")]
    assert "port made could not be freed: Cannot delete port made: 409" in caplog.text
