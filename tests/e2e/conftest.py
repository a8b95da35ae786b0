"""End-to-end fixtures: a real cloud per deployment mode: all-in-one (SQLite, in-process
bus, one process), and split into one process per part (RabbitMQ, and PostgreSQL or
MariaDB)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from stratus.testing.cloud import Cloud, scratch_database

MODES = ["all-in-one", "split-postgresql", "split-mariadb"]
ROOT = Path(__file__).resolve().parents[2]
# What `make run` builds and bootstrap registers: (script, folder, manifest).
DEFAULT_IMAGES = [
    ("build-guest-image.sh", "guest", "stratus-guest.json"),
    ("build-container-image.sh", "busybox", "busybox.json"),
]


@pytest.fixture(scope="session")
def image_manifests() -> list[Path]:
    """The default images, built (or found up to date) where `make run` builds them."""
    out = ROOT / "build" / "images"
    manifests = []
    for script, folder, manifest in DEFAULT_IMAGES:
        proc = subprocess.run(
            [str(ROOT / "tools" / script), str(out / folder)], capture_output=True, text=True
        )
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
        manifests.append(out / folder / manifest)
    return manifests


@pytest.fixture(scope="session", params=MODES)
def cloud(request: pytest.FixtureRequest, image_manifests: list[Path]) -> Iterator[Cloud]:
    mode: str = request.param
    # Not pytest's tmp_path: dnsmasq and QEMU, running as other users, read files in it.
    root = Path(tempfile.mkdtemp(prefix=f"stratus-e2e-{mode}-"))
    with ExitStack() as stack:
        if not os.environ.get("STRATUS_KEEP_E2E"):  # set it to look at the logs afterwards
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        url = stack.enter_context(scratch_database(mode.split("-")[1])) if "split" in mode else ""
        cloud = Cloud.create(
            root, split="split" in mode, database_url=url, image_manifests=image_manifests
        )
        stack.callback(cloud.destroy)
        cloud.start()
        yield cloud
