"""An engine in memory: for API tests and scale tests without Docker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from stratus.container import states
from stratus.container.agent.driver import (
    ContainerMissing,
    DriverUnavailable,
    HostInfo,
    ImageData,
    State,
)


class FakeDriver:
    def __init__(self, cpus: int = 8, memory_mb: int = 16384) -> None:
        self.info = HostInfo(cpus, memory_mb)
        self.containers: dict[str, dict[str, Any]] = {}
        self.images: set[str] = set()
        self.image_used: dict[str, float] = {}  # image id -> when a create last used it
        self.volumes: dict[str, list[dict[str, Any]]] = {}  # a container's volume mounts
        self.down: str | None = None  # set to a reason to play an engine that is down
        self._lock = threading.Lock()

    def host_info(self) -> HostInfo:
        self._check()
        return self.info

    def create(self, spec: dict[str, Any], image_data: ImageData) -> None:
        self._check()
        if spec["image_id"] and spec["image_id"] not in self.images:
            b"".join(image_data())
            self.images.add(spec["image_id"])
        if spec["image_id"]:
            self.image_used[spec["image_id"]] = time.monotonic()
        volumes = [m for m in spec.get("mounts") or [] if m["type"] == "volume"]
        with self._lock:
            if volumes:
                self.volumes.setdefault(spec["uuid"], volumes)
            self.containers[spec["uuid"]] = {
                "spec": spec,
                "status": states.CREATED,
                "ports": list(spec.get("ports") or []),  # what it is plugged into
            }

    def start(self, uuid: str) -> None:
        self._set(uuid, states.RUNNING)

    def stop(self, uuid: str, timeout: int) -> None:
        self._set(uuid, states.STOPPED, "Exited (0)")

    def restart(self, uuid: str, timeout: int) -> None:
        self._set(uuid, states.RUNNING)

    def pause(self, uuid: str) -> None:
        self._set(uuid, states.PAUSED)

    def unpause(self, uuid: str) -> None:
        self._set(uuid, states.RUNNING)

    def kill(self, uuid: str, signal: str | int) -> None:
        self._set(uuid, states.STOPPED, "Exited (137)")

    def update(self, uuid: str, cpu: float, memory: int) -> None:
        self._get(uuid)["spec"].update(cpu=cpu, memory=memory)

    def delete(self, uuid: str) -> None:
        self._check()
        with self._lock:
            self.containers.pop(uuid, None)
            self.volumes.pop(uuid, None)

    def network_attach(self, uuid: str, port: dict[str, Any]) -> None:
        ports = self._get(uuid).setdefault("ports", [])
        if all(p["port_id"] != port["port_id"] for p in ports):
            ports.append(port)

    def network_detach(self, uuid: str, port_id: str) -> None:
        container = self._get(uuid)
        container["ports"] = [p for p in container.get("ports", []) if p["port_id"] != port_id]

    def logs(self, uuid: str, **options: Any) -> str:
        return f"logs of {self._get(uuid)['spec']['uuid']}\n"

    def top(self, uuid: str, ps_args: str | None) -> dict[str, Any]:
        command = " ".join(self._get(uuid)["spec"]["command"] or [])
        return {"Titles": ["PID", "CMD"], "Processes": [["1", command]]}

    def stats(self, uuid: str) -> dict[str, Any]:
        memory = self._get(uuid)["spec"]["memory"]
        return {"CPU %": 0.0, "MEM USAGE(MiB)": 1.0, "MEM LIMIT(MiB)": float(memory)}

    def execute(self, uuid: str, command: list[str]) -> tuple[str, int]:
        """``echo`` echoes and exits 0; anything else cannot start (Docker's 127)."""
        self._get(uuid)
        if command[:1] == ["echo"]:
            return " ".join(command[1:]) + "\n", 0
        return f"exec: {command[0]!r}: executable file not found in $PATH\n", 127

    def commit(self, uuid: str, repository: str, tag: str) -> Iterator[bytes]:
        spec = self._get(uuid)["spec"]
        return iter([f"image of {spec['uuid']} as {repository}:{tag}".encode()])

    def exec_create(self, uuid: str, command: list[str]) -> str:
        container = self._get(uuid)
        container.setdefault("execs", []).append(command)
        return f"exec-{uuid}-{len(container['execs'])}"

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        uuid = exec_id.removeprefix("exec-").rsplit("-", 1)[0]
        self._get(uuid)["exec_size"] = (height, width)

    def resize(self, uuid: str, height: int, width: int) -> None:
        self._get(uuid)["size"] = (height, width)

    def states(self) -> dict[str, State]:
        self._check()
        with self._lock:
            return {
                uuid: State(c["status"], None, c.get("detail"))
                for uuid, c in self.containers.items()
            }

    def state(self, uuid: str) -> State | None:
        self._check()
        with self._lock:
            c = self.containers.get(uuid)
            return None if c is None else State(c["status"], None, c.get("detail"))

    def forget_unused_images(self, older_than: float) -> list[str]:
        self._check()
        cutoff = time.monotonic() - older_than
        with self._lock:
            used = {c["spec"].get("image_id") for c in self.containers.values()}
            gone = sorted(i for i in self.images - used if self.image_used.get(i, cutoff) <= cutoff)
            self.images -= set(gone)
        return gone

    def volume_owners(self) -> set[str]:
        self._check()
        with self._lock:
            return set(self.volumes)

    def changes(self) -> Iterator[str]:
        return iter(())  # every change is made through the driver, and reported then

    def close_changes(self) -> None:
        pass

    def _get(self, uuid: str) -> dict[str, Any]:
        self._check()
        try:
            return self.containers[uuid]
        except KeyError:
            raise ContainerMissing(uuid) from None

    def _set(self, uuid: str, status: str, detail: str | None = None) -> None:
        container = self._get(uuid)
        container["status"], container["detail"] = status, detail

    def _check(self) -> None:
        if self.down:
            raise DriverUnavailable(self.down)
