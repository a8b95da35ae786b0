"""What the agent asks of a container engine; :mod:`.docker` is the real one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

ImageData = Callable[[], Iterator[bytes]]


class DriverUnavailable(Exception):
    """The engine cannot be reached; the message says why."""


class ContainerMissing(Exception):
    """The engine holds no container for the uuid."""


@dataclass(frozen=True)
class State:
    status: str  # one of stratus.container.states
    reason: str | None = None
    detail: str | None = None  # e.g. "Exited (137) 2026-01-01T00:00:00"


@dataclass(frozen=True)
class HostInfo:
    cpus: int
    memory_mb: int


class Driver(Protocol):
    def host_info(self) -> HostInfo: ...

    def create(self, spec: dict[str, Any], image_data: ImageData) -> None:
        """Make the container (loading its image first if need be) with its mounts (its
        volumes made, kept if already there), not started."""

    def start(self, uuid: str) -> None: ...

    def stop(self, uuid: str, timeout: int) -> None: ...

    def restart(self, uuid: str, timeout: int) -> None: ...

    def pause(self, uuid: str) -> None: ...

    def unpause(self, uuid: str) -> None: ...

    def kill(self, uuid: str, signal: str | int) -> None: ...

    def update(self, uuid: str, cpu: float, memory: int) -> None: ...

    def delete(self, uuid: str) -> None:
        """Remove the container, running or not, then its volumes; nothing if they are
        already gone."""

    def forget_unused_images(self, older_than: float) -> list[str]:
        """Let go of the images loaded from the image service that no container uses and
        nothing used for ``older_than`` seconds; what was let go."""

    def network_attach(self, uuid: str, port: dict[str, Any]) -> None:
        """Plug a port (as the spec's ``ports`` list them) into the container."""

    def network_detach(self, uuid: str, port_id: str) -> None:
        """Unplug the port from the container (nothing if it holds no such port)."""

    def logs(
        self, uuid: str, stdout: bool, stderr: bool, timestamps: bool, tail: str, since: int | None
    ) -> str: ...

    def top(self, uuid: str, ps_args: str | None) -> dict[str, Any]: ...

    def stats(self, uuid: str) -> dict[str, Any]: ...

    def execute(self, uuid: str, command: list[str]) -> tuple[str, int]:
        """Run ``command`` in the running container: its output and exit code."""

    def commit(self, uuid: str, repository: str, tag: str) -> Iterator[bytes]:
        """Snapshot the container as an image: its ``docker save`` tarball, streamed
        (the engine keeps no copy once the stream is read)."""

    def exec_create(self, uuid: str, command: list[str]) -> str:
        """An interactive exec (tty, stdin) the websocket proxy starts; its id."""

    def exec_resize(self, exec_id: str, height: int, width: int) -> None: ...

    def resize(self, uuid: str, height: int, width: int) -> None: ...

    def states(self) -> dict[str, State]:
        """The state of every container this driver made, by uuid."""

    def state(self, uuid: str) -> State | None:
        """The state of one container this driver made (None if there is no such
        container): one look at the engine, where ``states`` looks at every container."""

    def volume_owners(self) -> set[str]:
        """The uuids of the containers whose volumes this driver holds (whether or not it
        holds the container itself)."""

    def changes(self) -> Iterator[str]:
        """The uuids of containers whose state changed, as the engine tells them (it
        blocks until one does); ends when the engine goes away or ``close_changes``."""

    def close_changes(self) -> None: ...
