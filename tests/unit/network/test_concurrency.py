"""Concurrent allocations on every database this host runs: threads race for addresses,
segments and the default security group, and each is handed out exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models, secgroups
from stratus.network.backend import Backend
from stratus.runtime.api.errors import ApiError

if TYPE_CHECKING:
    from conftest import Factory

T = TypeVar("T")
THREADS = 16


def race(count: int, work: Callable[[], T]) -> tuple[list[T], list[ApiError]]:
    """Run ``work`` in ``count`` threads started together; results and API errors."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[ApiError] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            result = work()
        except ApiError as exc:
            with lock:
                errors.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                unexpected.append(exc)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not unexpected, unexpected
    return results, errors


@pytest.fixture
def network_id(any_backend: Backend, any_factory: Factory) -> str:
    factory = any_factory

    def setup(session: Session) -> str:
        network = factory.network(session)
        factory.subnet(session, network, "10.0.0.0/27")  # .2 to .30: 29 addresses
        return network.id

    return any_backend.transaction(setup)


def _port_creator(backend: Backend, factory: Factory, network_id: str) -> Callable[[], str]:
    def create() -> str:
        def work(session: Session) -> str:
            network = session.get_one(models.Network, network_id)
            return factory.port(session, network).fixed_ips[0].ip_address

        return backend.transaction(work)

    return create


def test_concurrent_ports_never_share_an_address(
    any_backend: Backend, any_factory: Factory, network_id: str
) -> None:
    addresses, errors = race(THREADS, _port_creator(any_backend, any_factory, network_id))
    assert not errors
    assert len(set(addresses)) == THREADS
    held = any_backend.transaction(
        lambda s: s.scalars(sa.select(models.IPAllocation.ip_address)).all()
    )
    assert sorted(held) == sorted(addresses)


def test_concurrent_ports_exhaust_a_subnet_cleanly(
    any_backend: Backend, any_factory: Factory, network_id: str
) -> None:
    create = _port_creator(any_backend, any_factory, network_id)
    race(THREADS, create)
    addresses, errors = race(THREADS, create)
    assert len(addresses) == 29 - THREADS
    assert len(errors) == 2 * THREADS - 29
    assert {e.error_type for e in errors} == {"IpAddressGenerationFailure"}
    count = any_backend.transaction(
        lambda s: s.scalar(sa.select(sa.func.count()).select_from(models.IPAllocation))
    )
    assert count == 29


def test_concurrent_networks_get_distinct_segments(
    any_backend: Backend, any_factory: Factory
) -> None:
    def create() -> int | None:
        def work(session: Session) -> int | None:
            return any_factory.network(session).segments[0].segmentation_id

        return any_backend.transaction(work)

    vnis, errors = race(5, create)  # the test config has 3 VNIs
    assert sorted(vnis) == [1, 2, 3]  # type: ignore[type-var]
    assert [e.error_type for e in errors] == ["NoNetworkAvailable"] * 2


def test_concurrent_first_uses_make_one_default_group(any_backend: Backend) -> None:
    def ensure() -> str:
        return any_backend.transaction(lambda s: secgroups.ensure_default(s, "p9"))

    ids, errors = race(8, ensure)
    assert not errors and len(set(ids)) == 1
    groups = any_backend.transaction(
        lambda s: s.scalar(sa.select(sa.func.count()).select_from(models.SecurityGroup))
    )
    assert groups == 1
