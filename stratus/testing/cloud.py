"""A real cloud in a temporary directory, started the way ``make run`` starts one, and
the real ``openstack`` client pointed at it: for end-to-end tests and benchmarks.

Two ways to run it: all-in-one (one detached ``stratus up`` process, the in-process bus)
and split (one ``stratus run PART`` process per part, RabbitMQ). Ports are picked free,
so a cloud already running on this host is never disturbed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stratus.runtime import parts
from stratus.runtime.config import registry
from stratus.testing.network import clean_host, isolated_config, render_ini

BIN = Path(sys.executable).parent
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CommandFailed(AssertionError):
    """A command that was expected to succeed exited non-zero."""


@dataclass
class Cloud:
    """A cloud under ``root``: its config, and how to drive it with stratus and openstack."""

    root: Path
    split: bool
    services: list[str]
    ports: dict[str, int]
    token: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    part_pids: dict[str, int] = field(default_factory=dict)  # split: each part's process

    @classmethod
    def create(
        cls,
        root: Path,
        *,
        split: bool = False,
        database_url: str = "",
        services: list[str] | None = None,
        image_manifests: list[Path] | None = None,
    ) -> Cloud:
        """Write the config, create the tables and bootstrap (not started yet); the
        images of ``image_manifests`` are registered as bootstrap registers the defaults."""
        services = services or list(registry()["DEFAULT"]["enabled_services"].default)
        ports = {name: free_port() for name in services}
        token = "t" + secrets.token_hex(3)
        sections: dict[str, dict[str, str]] = {
            "DEFAULT": {
                "data_dir": str(root / "data"),
                # Its own agent host: agents leave other clouds' domains and containers alone.
                "host": f"{token}-host",
                "my_ip": "127.0.0.1",
                "bind_host": "127.0.0.1",
                "log_file": str(root / "stratus.log"),
                "enabled_services": ",".join(services),
            },
            **(isolated_config(token) if "network" in services else {}),
        }
        if "container" in services:  # its websocket proxy listens beside the APIs
            sections["websocket_proxy"] = {"wsproxy_port": str(free_port())}
            # and its Docker network plugin on a socket of its own
            sections["container"] = {"network_plugin_name": f"stratus-{token}"}
        if "compute" in services:  # its serial console proxy listens beside the APIs
            sections["compute"] = {"instances_path": str(root / "instances")}
            sections["serial_console"] = {"serialproxy_port": str(free_port())}
        if split:
            sections["DEFAULT"]["transport_url"] = AMQP_URL
        if database_url:
            sections["database"] = {"connection": database_url}
        for name, port in ports.items():
            sections.setdefault(parts.SERVICES[name].section, {})["port"] = str(port)
        # dnsmasq (user nobody) reads its files under the data dir, and QEMU (libvirt-qemu)
        # the disks under the instances path: every folder above must be traversable too.
        root.chmod(0o755)
        _check_traversable(root)
        cloud = cls(root=root, split=split, services=services, ports=ports, token=token)
        cloud.conf_path.write_text(render_ini(sections))
        cloud.stratus("db", "sync")
        manifests = [arg for m in image_manifests or [] for arg in ("--image-manifest", str(m))]
        cloud.stratus("bootstrap", "--clouds-yaml", str(cloud.clouds_yaml), *manifests)
        return cloud

    @property
    def host(self) -> str:
        """The agent host name of this cloud's compute and container agents."""
        return f"{self.token}-host"

    @property
    def network_plugin(self) -> str:
        """The name of this cloud's Docker network plugin."""
        return f"stratus-{self.token}"

    @property
    def conf_path(self) -> Path:
        return self.root / "stratus.conf"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def stratus(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "stratus.cli.main", "--config-file", str(self.conf_path)]
        return run_command([*command, *args], check=check, env=os.environ.copy())

    def openstack(self, *args: str, cloud: str = "stratus", check: bool = True) -> Any:
        """Run the real client on a clouds.yaml entry; with ``-f json``, the decoded output."""
        env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}
        return _client(["--os-cloud", cloud, *args], env, check)

    def openstack_with(self, auth: list[str], *args: str, check: bool = True) -> Any:
        """Run the real client authenticating with explicit ``--os-*`` flags instead."""
        flags = ["--os-auth-url", f"{self.url('identity')}/v3", "--os-identity-api-version", "3"]
        return _client([*flags, *auth, *args], _clean_env(), check)

    def start(self) -> None:
        if not self.split:
            self.stratus("up", "--detach")
            return
        for name in self.services:
            for part in parts.SERVICES[name].parts:
                self._start_part(part)
        self._wait_healthy()

    def _start_part(self, part: str) -> None:
        command = [sys.executable, "-m", "stratus.cli.main", "--config-file", str(self.conf_path)]
        with open(self.root / "parts.log", "ab") as log:
            process = subprocess.Popen(
                [*command, "run", part], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        self.processes.append(process)
        self.part_pids[part] = process.pid

    def kill_and_restart(self, part: str) -> None:
        """SIGKILL the process running ``part`` (all-in-one: the whole cloud), as a crash
        would, and start it again."""
        if not self.split:
            pid = self.cloud_pid()
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)
            self.stratus("up", "--detach")
            return
        process = next(p for p in self.processes if p.pid == self.part_pids[part])
        process.kill()
        process.wait()
        self.processes.remove(process)
        self._start_part(part)

    def stop(self) -> None:
        if not self.split:
            self.stratus("down")
            return
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def destroy(self) -> None:
        """Stop the cloud and remove everything its network agents made on this host."""
        held: dict[str, list[str]] = {}
        if "network" in self.services:
            held = self._network_object_ids()
        try:
            if "container" in self.services:
                # While its network plugin still answers: Docker asks it to unplug each
                # endpoint, and waits a minute for a plugin that is gone.
                remove_containers(self.host)
                remove_docker_networks(self.network_plugin)
        finally:
            self._stop_and_clean(held)

    def _stop_and_clean(self, held: dict[str, list[str]]) -> None:
        """Stop the cloud, then remove its domains, containers and network devices: each
        step even if one before it failed (the first failure is raised at the end)."""
        steps: list[Callable[[], object]] = [self.stop]
        if "compute" in self.services:
            steps.append(lambda: remove_domains(self.host))
        if "container" in self.services:
            steps.append(lambda: remove_containers(self.host))
        if "network" in self.services:
            ids = held.get("networks", []) + held.get("routers", [])
            state = self.root / "data" / "network"
            ports = held.get("ports", [])
            steps.append(lambda: clean_host(self.token, state, f"{self.token}ex", ids, ports))
        failures: list[Exception] = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # the next steps still run
                failures.append(exc)
        if failures:
            raise failures[0]

    def admin_token(self) -> str:
        return password_token(self.url("identity") + "/v3", "admin", self.admin_password, "admin")

    @property
    def admin_password(self) -> str:
        return json.loads((self.root / "data" / "credentials.json").read_text())["admin_password"]

    def _network_object_ids(self) -> dict[str, list[str]]:
        """The ids of every network, router and port the network service holds (best
        effort: a cloud that no longer answers has none to tell)."""
        try:
            headers = {"X-Auth-Token": self.admin_token()}
            held = {}
            for collection in ("networks", "routers", "ports"):
                url = f"{self.url('network')}/v2.0/{collection}"
                items = httpx.get(url, headers=headers).json()[collection]
                held[collection] = [item["id"] for item in items]
            return held
        except (httpx.HTTPError, KeyError, ValueError):
            return {}

    def cloud_pid(self) -> int:
        """The pid of the all-in-one process."""
        return int((self.root / "data" / "stratus.pid").read_text())

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                try:
                    if httpx.get(f"{self.url(name)}/healthcheck", timeout=1).is_success:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            for process in self.processes:
                if process.poll() is not None:
                    raise CommandFailed(
                        f"a part exited with {process.returncode}; see {self.root / 'parts.log'}"
                    )
            time.sleep(0.2)
        if pending:
            raise CommandFailed(f"{', '.join(sorted(pending))} did not answer in {timeout} s")


def password_auth(
    user: str, password: str, project: str | None = None, domain: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Keystone v3 password authentication body, scoped to ``project`` when given; user
    and project are in ``domain`` (``{"id"}`` or ``{"name"}``; the default domain if not
    given)."""
    domain = domain or {"id": "default"}
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": domain, "password": password}},
        }
    }
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": domain}}
    return {"auth": auth}


def password_token(
    auth_url: str, user: str, password: str, project: str, domain: dict[str, str] | None = None
) -> str:
    """A project-scoped token from the identity API at ``auth_url`` (its ``/v3``)."""
    body = password_auth(user, password, project, domain)
    response = httpx.post(f"{auth_url}/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return response.headers["x-subject-token"]


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # gone, or a zombie nobody has reaped yet
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)
    raise CommandFailed(f"process {pid} is still there {timeout} s after SIGKILL")


def _check_traversable(root: Path) -> None:
    for folder in root.resolve().parents:
        if not folder.stat().st_mode & 0o001:
            raise ValueError(
                f"{folder} must be traversable by others (o+x) for a cloud under {root}: "
                "dnsmasq and QEMU run as other users (pytest's tmp_path is private; use "
                "tempfile.mkdtemp)"
            )


def remove_domains(host: str) -> list[str]:
    """Destroy and undefine the libvirt domains agent ``host`` made; their names."""
    import libvirt

    from stratus.compute.virt.libvirt.host import owner

    removed = []
    conn = libvirt.open("qemu:///system")
    try:
        for domain in conn.listAllDomains():
            if owner(domain) == host:
                if domain.isActive():
                    domain.destroy()
                domain.undefine()
                removed.append(domain.name())
    finally:
        conn.close()
    return removed


def remove_containers(host: str) -> list[str]:
    """Remove the Docker containers agent ``host`` made (any state), then its volumes;
    the containers' names."""
    import docker

    from stratus.container.agent.docker import HOST_LABEL

    client = docker.from_env()
    try:
        mine = {"label": f"{HOST_LABEL}={host}"}
        found = client.containers.list(all=True, filters=mine)
        for container in found:
            container.remove(force=True)
        for volume in client.volumes.list(filters=mine):
            volume.remove(force=True)
        return [c.name for c in found]
    finally:
        client.close()


def remove_docker_networks(driver: str) -> list[str]:
    """Remove the Docker networks of the network plugin ``driver`` (their containers gone
    already); their names."""
    import docker

    client = docker.from_env()
    try:
        found = client.networks.list(filters={"driver": driver})
        for network in found:
            network.remove()
        return [n.name for n in found]
    finally:
        client.close()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


def _client(args: list[str], env: dict[str, str], check: bool) -> Any:
    result = run_command([str(BIN / "openstack"), *args], check=check, env=env)
    if check and "json" in args and result.stdout.strip():
        return json.loads(result.stdout)
    return result


def run_command(
    command: list[str], *, check: bool, env: dict[str, str] | None = None
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


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A new, empty PostgreSQL or MariaDB database on loopback, dropped afterwards."""
    name = f"stratus_test_{uuid.uuid4().hex[:10]}"
    if kind == "postgresql":
        import psycopg

        admin = "postgresql://postgres@127.0.0.1/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1/{name}"
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    import pymysql

    connection = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield f"mysql+pymysql://root@127.0.0.1/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()
