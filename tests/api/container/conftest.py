"""The container API against the real identity and image services, with an agent on the
in-process bus driving the in-memory engine. Each test gets fresh databases and a bus of
its own; identity is bootstrapped once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratus.container.agent.fake import FakeDriver
from stratus.testing import container
from stratus.testing.container import Env
from stratus.testing.identity import InProcessIdentity

__all__ = ["Env"]


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessIdentity]:
    identity = container.identity(tmp_path_factory.mktemp("identity"))
    yield identity
    identity.close()


@pytest.fixture(scope="session")
def tables(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return container.migrated_tables(tmp_path_factory.mktemp("container-template"))


@pytest.fixture
def env(identity: InProcessIdentity, tables: list[Path], tmp_path: Path) -> Iterator[Env]:
    with container.open_env(identity, tables, tmp_path, FakeDriver(cpus=4, memory_mb=4096)) as env:
        env.report()
        yield env
