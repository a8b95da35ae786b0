"""The all-in-one cloud as a background process: start it, wait for it, stop it by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from stratus.runtime import parts
from stratus.runtime.process import Runtime


@dataclass(frozen=True)
class ApiHealth:
    part: str
    url: str
    healthy: bool


def pid_file(runtime: Runtime) -> Path:
    return runtime.conf.data_dir / "stratus.pid"


def log_file(runtime: Runtime) -> Path:
    return runtime.conf.data_dir / "stratus.log"


def running_pid(runtime: Runtime) -> int | None:
    """The pid of the detached cloud if it is alive (a stale pid file is removed)."""
    path = pid_file(runtime)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not _alive(pid):
        path.unlink(missing_ok=True)
        return None
    return pid


def health(runtime: Runtime) -> list[ApiHealth]:
    """Ask every enabled API for its /healthcheck."""
    results = []
    host = runtime.conf.get("DEFAULT", "my_ip")
    for service in parts.enabled(runtime):
        url = f"http://{host}:{runtime.conf.get(service.section, 'port')}/healthcheck"
        try:
            ok = httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            ok = False
        results.append(ApiHealth(service.parts[0], url, ok))
    return results


def start_detached(runtime: Runtime, timeout: float) -> int:
    """Start ``stratus up`` in the background and wait until every API answers."""
    runtime.conf.data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "stratus.cli.main"]
    if runtime.conf.path is not None:
        command += ["--config-file", str(runtime.conf.path)]
    command.append("up")
    with open(log_file(runtime), "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    pid_file(runtime).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pid_file(runtime).unlink(missing_ok=True)
            raise RuntimeError(
                f"the cloud exited with status {process.returncode} while starting; "
                f"see {log_file(runtime)}"
            )
        if all(h.healthy for h in health(runtime)):
            return process.pid
        time.sleep(0.2)
    stop(runtime, process.pid, timeout=10)
    raise RuntimeError(f"the cloud did not answer within {timeout:.0f} s; see {log_file(runtime)}")


def stop(runtime: Runtime, pid: int, timeout: float = 30) -> None:
    """SIGTERM the cloud by its pid, SIGKILL it if it will not go."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file(runtime).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie whose parent does not reap it is gone all the same
