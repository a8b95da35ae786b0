"""The interface between the compute agent and a hypervisor.

A driver serves one or more hosts (the fake driver simulates many in one process) and
answers for the servers on them; ``instance`` arguments are the dicts the conductor
sends (see :func:`stratus.compute.records.wire`), with ``host`` naming the host.
Methods raise :class:`VirtError` (or anything else) when the hypervisor fails; the
agent turns that into a fault on the server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

Instance = dict[str, Any]
NetworkInfo = list[dict[str, Any]]


class VirtError(Exception):
    """The hypervisor could not do what was asked (the message says what and why)."""


class UnusableImage(VirtError):
    """The server's image cannot be its disk (what it holds is not what it claims, or it
    names other files): no other host would do better, so the build is not retried."""


class ConsoleUnavailable(VirtError):
    """The server has no console of the kind asked for, or it is not running."""


class VirtDriver(ABC):
    @abstractmethod
    def hosts(self) -> list[str]:
        """The hosts this driver runs servers on."""

    @abstractmethod
    def nodes(self, host: str) -> list[dict[str, Any]]:
        """What each node of the host offers: ``hypervisor_hostname``, ``hypervisor_type``,
        ``hypervisor_version``, ``vcpus``, ``memory_mb``, ``local_gb``, ``cpu_info``,
        ``capabilities`` (with ``supported_instances``, and ``resize_across_hosts``
        False when a resize must stay on the server's host), ``host_ip``."""

    @abstractmethod
    def list_instances(self, host: str) -> dict[str, int]:
        """The servers that have a domain on the host, by uuid, with their power states."""

    @abstractmethod
    def spawn(
        self,
        instance: Instance,
        network_info: NetworkInfo,
        ports: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Create the server's disks and domain and start it. ``ports``: the ports of
        ``network_info`` as the network API last showed them, by id, when the caller
        holds them (a driver need not read them again)."""

    def prepare(self, instance: Instance) -> None:
        """What of the server's build needs no network: done (e.g. its disk made) before
        its ports are made and :meth:`spawn`; what it may leave going in the background
        (a domain starting) runs while they are. What it made goes with :meth:`destroy`.
        Nothing by default."""
        return None

    @abstractmethod
    def destroy(self, instance: Instance) -> None:
        """Stop the server and remove its domain and disks (nothing if it has none)."""

    @abstractmethod
    def power_off(self, instance: Instance) -> None: ...

    @abstractmethod
    def power_on(self, instance: Instance) -> None: ...

    @abstractmethod
    def reboot(self, instance: Instance, hard: bool) -> None: ...

    @abstractmethod
    def pause(self, instance: Instance) -> None: ...

    @abstractmethod
    def unpause(self, instance: Instance) -> None: ...

    @abstractmethod
    def suspend(self, instance: Instance) -> None: ...

    @abstractmethod
    def resume(self, instance: Instance) -> None: ...

    @abstractmethod
    def power_state(self, instance: Instance) -> int:
        """The server's power state now (NOSTATE when it has no domain)."""

    @abstractmethod
    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str) -> None:
        """The source side of a resize: stop the server and hand its disks over."""

    @abstractmethod
    def finish_migration(
        self, instance: Instance, network_info: NetworkInfo, power_on: bool
    ) -> None:
        """The destination side of a resize: run the server with ``instance["flavor"]``."""

    @abstractmethod
    def confirm_migration(self, instance: Instance, source_host: str) -> None:
        """Remove what a confirmed resize left on the source host."""

    @abstractmethod
    def revert_migration(self, instance: Instance, source_host: str) -> None:
        """Remove what a reverted resize made on the destination host (``instance``'s):
        what the source's :meth:`finish_revert_migration` runs the server on again stays."""

    @abstractmethod
    def finish_revert_migration(
        self, instance: Instance, network_info: NetworkInfo, power_on: bool
    ) -> None:
        """Run the server on the source again, with its old flavor."""

    @abstractmethod
    def snapshot(self, instance: Instance, upload: Callable[[Path], None]) -> None:
        """Write the server's disk to a file and hand it to ``upload``."""

    @abstractmethod
    def get_console_output(self, instance: Instance) -> str: ...

    @abstractmethod
    def get_serial_console(self, instance: Instance) -> dict[str, Any]:
        """Where the running server's serial port listens: ``{"host", "port"}`` (TCP);
        ConsoleUnavailable if it has none."""

    @abstractmethod
    def attach_interface(self, instance: Instance, vif: dict[str, Any]) -> None:
        """Plug the port ``vif`` (a ``network_info`` entry) into the server: a running
        guest gets the NIC at once, and the server keeps it when it starts again."""

    @abstractmethod
    def detach_interface(self, instance: Instance, vif: dict[str, Any]) -> None:
        """Take the port's NIC out of the server and unplug it (nothing if it has none)."""
