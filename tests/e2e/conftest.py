"""End-to-end fixtures: a real cloud per deployment mode: all-in-one (SQLite, in-process
bus, one process), and split into one process per part (RabbitMQ, and PostgreSQL or
MariaDB)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from stratus.testing.cloud import Cloud, scratch_database

MODES = ["all-in-one", "split-postgresql", "split-mariadb"]


@pytest.fixture(scope="session", params=MODES)
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    mode: str = request.param
    root = tmp_path_factory.mktemp(f"cloud-{mode}")
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(mode.split("-")[1])) if "split" in mode else ""
        cloud = Cloud.create(root, split="split" in mode, database_url=url)
        stack.callback(cloud.destroy)
        cloud.start()
        yield cloud
