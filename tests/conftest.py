"""Fixtures every test layer shares: a config in a temporary data dir, and its runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratus.runtime.config import Config
from stratus.runtime.process import Runtime


@pytest.fixture
def conf(tmp_path: Path) -> Config:
    """A config whose data dir is private to the test (SQLite, in-process bus)."""
    path = tmp_path / "stratus.conf"
    path.write_text(f"[DEFAULT]\ndata_dir = {tmp_path / 'data'}\n")
    return Config(path)


@pytest.fixture
def runtime(conf: Config) -> Iterator[Runtime]:
    rt = Runtime(conf)
    yield rt
    rt.close()
