"""A real cloud for end-to-end tests, started the way ``make run`` starts one, and the
real ``openstack`` client pointed at it.

Three deployments: all-in-one (SQLite, in-process bus, one detached process) and split
(one process per part, RabbitMQ, PostgreSQL or MariaDB). Ports are picked free, so a
cloud already running on this host is never disturbed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent
SPLIT_PARTS = ("identity-api", "image-api")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CommandFailed(AssertionError):
    """A command the test expected to succeed exited non-zero."""


@dataclass
class Cloud:
    """A running cloud: its config, and how to drive it with stratus and openstack."""

    root: Path
    mode: str
    ports: dict[str, int]
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def conf_path(self) -> Path:
        return self.root / "stratus.conf"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    def stratus(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "stratus.cli.main", "--config-file", str(self.conf_path)]
        return _run([*command, *args], check=check, env=os.environ.copy())

    def openstack(self, *args: str, cloud: str = "stratus", check: bool = True) -> Any:
        """Run the real client on a clouds.yaml entry; with ``-f json``, the decoded output."""
        env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}
        return _client(["--os-cloud", cloud, *args], env, check)

    def openstack_with(self, auth: list[str], *args: str, check: bool = True) -> Any:
        """Run the real client authenticating with explicit ``--os-*`` flags instead."""
        url = f"http://127.0.0.1:{self.ports['identity']}/v3"
        flags = ["--os-auth-url", url, "--os-identity-api-version", "3", *auth]
        return _client([*flags, *args], _clean_env(), check)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        while pending and time.monotonic() < deadline:
            for name, port in list(pending.items()):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).is_success:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            for process in self.processes:
                if process.poll() is not None:
                    raise AssertionError(f"part exited with {process.returncode}; see {self.root}")
            time.sleep(0.2)
        assert not pending, f"{', '.join(pending)} did not answer within {timeout} s"

    def start_split(self) -> None:
        log = open(self.root / "parts.log", "ab")  # noqa: SIM115 - kept for the processes' life
        for part in SPLIT_PARTS:
            command = [
                sys.executable,
                "-m",
                "stratus.cli.main",
                "--config-file",
                str(self.conf_path),
                "run",
                part,
            ]
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            )
        self.wait_healthy()

    def stop_split(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def start(self) -> None:
        if self.mode == "all-in-one":
            self.stratus("up", "--detach")
        else:
            self.start_split()

    def stop(self) -> None:
        if self.mode == "all-in-one":
            self.stratus("down")
        else:
            self.stop_split()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


def _client(args: list[str], env: dict[str, str], check: bool) -> Any:
    result = _run([str(BIN / "openstack"), *args], check=check, env=env)
    if check and "json" in args and result.stdout.strip():
        return json.loads(result.stdout)
    return result


def _run(
    command: list[str], *, check: bool, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise CommandFailed(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


def _database_url(mode: str) -> Iterator[str]:
    """A fresh database for the split modes, dropped afterwards."""
    name = f"stratus_e2e_{uuid.uuid4().hex[:10]}"
    if mode == "split-postgresql":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1/{name}"
        finally:
            with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        import pymysql

        connection = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        try:
            yield f"mysql+pymysql://root@127.0.0.1/{name}"
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            connection.close()


MODES = ["all-in-one", "split-postgresql", "split-mariadb"]


@pytest.fixture(scope="module", params=MODES)
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    mode = request.param
    root = tmp_path_factory.mktemp(f"cloud-{mode}")
    ports = {"identity": free_port(), "image": free_port()}
    lines = [
        "[DEFAULT]",
        f"data_dir = {root / 'data'}",
        "my_ip = 127.0.0.1",
        "bind_host = 127.0.0.1",
        f"log_file = {root / 'stratus.log'}",
    ]
    database = None
    if mode != "all-in-one":
        lines.append("transport_url = amqp://guest:guest@127.0.0.1:5672//")
        database = _database_url(mode)
        lines += ["[database]", f"connection = {next(database)}"]
    lines += ["[identity]", f"port = {ports['identity']}", "[image]", f"port = {ports['image']}"]
    cloud = Cloud(root=root, mode=mode, ports=ports)
    cloud.conf_path.write_text("\n".join(lines) + "\n")
    try:
        cloud.stratus("db", "sync")
        cloud.stratus("bootstrap", "--clouds-yaml", str(cloud.clouds_yaml))
        cloud.start()
        yield cloud
    finally:
        cloud.stop()
        if database is not None:
            database.close()
