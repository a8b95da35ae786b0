"""The compute agent part: runs the servers of its hosts through the virt driver.

It listens on ``compute-agent.<host>`` for each host its driver serves, reports the
hosts' resources and heartbeats to the conductor every ``report_interval``, and makes
its hosts match the database (principle 3): at start it finishes or undoes work a
previous run left half done, and every ``sync_power_state_interval`` it reports power
states that changed behind its back and removes domains of deleted servers. Operations
on one server run one at a time.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from stratus.compute import (
    options,  # noqa: F401 - declares the options read here
    states,
)
from stratus.compute.clients.images import ImageClient
from stratus.compute.clients.network import NetworkError
from stratus.compute.conductor.manager import AGENT_TOPIC
from stratus.compute.conductor.manager import TOPIC as CONDUCTOR_TOPIC
from stratus.compute.networking import Networking
from stratus.compute.records import instance_name
from stratus.compute.virt.driver import Instance, UnusableImage, VirtDriver
from stratus.runtime.bus import Bus, Listener, RemoteError
from stratus.runtime.config import Config
from stratus.runtime.db import utcnow
from stratus.runtime.keyed_locks import KeyedLocks
from stratus.runtime.periodic import Periodic

LOG = logging.getLogger(__name__)

CONSOLE_MAX_LINES = 10_000
POOL_PER_HOST = 4


class InterfaceGone(Exception):
    """The server (or its port) went while an interface was attached or detached."""


class ComputeAgent:
    def __init__(
        self,
        conf: Config,
        bus: Bus,
        driver: VirtDriver,
        networking: Networking,
        images: ImageClient | None,
    ) -> None:
        self.conf = conf
        self.bus = bus
        self.driver = driver
        self.networking = networking
        self.images = images
        self._locks = KeyedLocks()  # one operation on a server at a time
        self._listeners: list[Listener] = []
        self._recovered = False
        # Power operations a previous run did not finish, done again at start.
        self._redo: dict[str, Callable[[Instance], None]] = {
            states.POWERING_OFF: self.stop_instance,
            states.POWERING_ON: self.start_instance,
            states.REBOOTING: lambda i: self.reboot_instance(i, "HARD"),
            states.REBOOTING_HARD: lambda i: self.reboot_instance(i, "HARD"),
        }
        self._periodics = [
            Periodic("compute-agent-report", conf.compute.report_interval, self.report),
            Periodic("compute-agent-sync", conf.compute.sync_power_state_interval, self._sync),
        ]

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        for host in self.driver.hosts():
            self._listeners.append(
                self.bus.serve(AGENT_TOPIC, self, host=host, pool_size=POOL_PER_HOST)
            )
        try:
            self.report()
            for host in self.driver.hosts():
                self.recover(host)
            self._recovered = True
        except Exception as exc:  # conductor or hypervisor not up yet: the rounds retry
            LOG.warning("the first report failed (%s); retrying in the background", exc)
        for periodic in self._periodics:
            periodic.start(run_now=False)

    def stop(self) -> None:
        for periodic in self._periodics:
            periodic.stop()
        for listener in self._listeners:
            listener.stop()
        self._listeners.clear()

    def report(self) -> None:
        """Heartbeats and resources of every host, in one message."""
        section = self.conf.compute
        node_settings = {
            "cpu_allocation_ratio": section.cpu_allocation_ratio,
            "ram_allocation_ratio": section.ram_allocation_ratio,
            "disk_allocation_ratio": section.disk_allocation_ratio,
            "reserved_vcpus": section.reserved_host_cpus,
            "reserved_memory_mb": section.reserved_host_memory_mb,
            "reserved_disk_gb": -(-section.reserved_host_disk_mb // 1024),
        }
        hosts = [
            {"host": host, "nodes": [{**node, **node_settings} for node in self.driver.nodes(host)]}
            for host in self.driver.hosts()
        ]
        self.bus.call(CONDUCTOR_TOPIC, "report", hosts=hosts)

    def recover(self, host: str) -> None:
        """Finish or undo what was under way on the host's servers when the agent last
        stopped, then match power states and domains to the database."""
        for instance in self._conductor("instances_on_host", agent_host=host):
            task = instance["task_state"]
            if task == states.DELETING:
                self.terminate_instance(instance)
            elif task == states.SPAWNING or instance["vm_state"] == states.BUILDING:
                with self._lock(instance):
                    self._undo_build(instance, "The compute agent restarted during the build.")
            elif task in self._redo:
                self._redo[task](instance)
            elif task is not None:
                self._finish(instance, {"task_state": None}, "compute_init_host")
        self.sync_power_states(host)

    def _sync(self) -> None:
        """The periodic round: recovery first if the start could not do it."""
        if not self._recovered:
            for host in self.driver.hosts():
                self.recover(host)
            self._recovered = True
            return
        self.sync_power_states()

    def sync_power_states(self, host: str | None = None) -> None:
        for name in [host] if host else self.driver.hosts():
            expected = {i["uuid"]: i for i in self._conductor("instances_on_host", agent_host=name)}
            domains = self.driver.list_instances(name)
            strays = [uuid for uuid in domains if uuid not in expected]
            if strays:
                for uuid in self._conductor("orphans", agent_host=name, instance_uuids=strays):
                    LOG.warning("removing the domain of server %s, which is not on %s", uuid, name)
                    self.driver.destroy({"uuid": uuid, "host": name, "name": instance_name(uuid)})
            for uuid, instance in expected.items():
                actual = domains.get(uuid, states.NOSTATE)
                stale = actual != instance["power_state"] or (
                    instance["vm_state"] == states.ACTIVE and actual != states.RUNNING
                )
                if instance["task_state"] is None and stale:
                    self.bus.cast(
                        CONDUCTOR_TOPIC, "sync_power_state", instance_uuid=uuid, power_state=actual
                    )

    # -- building and deleting ----------------------------------------------------------

    def build_and_run_instance(self, instance: Instance, request_id: str | None = None) -> None:
        with self._lock(instance):
            start = utcnow().isoformat()
            host = instance["host"]
            network_info: list[dict[str, Any]] = []
            try:
                ports: dict[str, dict[str, Any]] = {}
                # First, so that what the driver starts in the background (QEMU, on most
                # machines) is under way before the ports take the process's time.
                self.driver.prepare(instance)
                network_info = self.networking.allocate(instance, host, ports)
                self.driver.spawn(instance, network_info, ports)
            except Exception as exc:
                LOG.warning("building %s on %s failed: %s", instance["uuid"], host, exc)
                self._cleanup(instance, network_info)
                self.bus.cast(
                    CONDUCTOR_TOPIC,
                    "build_failed",
                    instance_uuid=instance["uuid"],
                    agent_host=host,
                    message=_message(exc),
                    details=_details(exc),
                    request_id=request_id,
                    retry=not isinstance(exc, NetworkError | UnusableImage),
                )
                return
            values = {
                "vm_state": states.ACTIVE,
                "task_state": None,
                "power_state": self.driver.power_state(instance),
                "launched_at": utcnow().isoformat(),
                "network_info": network_info,
            }
            try:
                kept = self._finish(
                    instance,
                    values,
                    "compute__do_build_and_run_instance",
                    request_id,
                    start,
                    expected=[states.SPAWNING],
                )
            except RemoteError as exc:
                if exc.exc_type != "UnexpectedTaskState":
                    raise
                kept = {"task_state": states.DELETING}  # a delete waits for this lock
            if kept is None:  # deleted while it was being built
                self._cleanup(instance, network_info)

    def _undo_build(self, instance: Instance, message: str) -> None:
        self._cleanup(instance, None)
        self.bus.cast(
            CONDUCTOR_TOPIC,
            "build_failed",
            instance_uuid=instance["uuid"],
            agent_host=instance["host"],
            message=message,
            retry=False,
        )

    def _cleanup(self, instance: Instance, network_info: list[dict[str, Any]] | None) -> None:
        """Remove the server's domain (and the devices of ``network_info``), then its ports."""
        try:
            self.driver.destroy({**instance, "network_info": network_info or []})
        finally:
            self.networking.deallocate(instance, network_info or None)

    def terminate_instance(self, instance: Instance, request_id: str | None = None) -> None:
        with self._lock(instance):
            start = utcnow().isoformat()
            try:
                self._cleanup(instance, instance.get("network_info") or None)
            except Exception as exc:
                LOG.exception("deleting %s failed", instance["uuid"])
                self._finish(
                    instance,
                    {"vm_state": states.ERROR, "task_state": None},
                    "compute_terminate_instance",
                    request_id,
                    start,
                    error=exc,
                )
                return
            self.bus.call(
                CONDUCTOR_TOPIC,
                "instance_destroyed",
                instance_uuid=instance["uuid"],
                agent_host=instance["host"],
                request_id=request_id,
                start_time=start,
            )

    # -- power --------------------------------------------------------------------------

    def stop_instance(self, instance: Instance, request_id: str | None = None) -> None:
        self._power_task(
            instance, self.driver.power_off, states.STOPPED, "compute_stop_instance", request_id
        )

    def start_instance(self, instance: Instance, request_id: str | None = None) -> None:
        self._power_task(
            instance, self.driver.power_on, states.ACTIVE, "compute_start_instance", request_id
        )

    def reboot_instance(
        self, instance: Instance, reboot_type: str = "SOFT", request_id: str | None = None
    ) -> None:
        hard = reboot_type == "HARD"
        self._power_task(
            instance,
            lambda i: self.driver.reboot(self._current(i) if hard else i, hard),
            states.ACTIVE,
            "compute_reboot_instance",
            request_id,
        )

    def pause_instance(self, instance: Instance, request_id: str | None = None) -> None:
        self._power_task(
            instance, self.driver.pause, states.PAUSED, "compute_pause_instance", request_id
        )

    def unpause_instance(self, instance: Instance, request_id: str | None = None) -> None:
        self._power_task(
            instance, self.driver.unpause, states.ACTIVE, "compute_unpause_instance", request_id
        )

    def suspend_instance(self, instance: Instance, request_id: str | None = None) -> None:
        self._power_task(
            instance, self.driver.suspend, states.SUSPENDED, "compute_suspend_instance", request_id
        )

    def resume_instance(self, instance: Instance, request_id: str | None = None) -> None:
        self._power_task(
            instance, self.driver.resume, states.ACTIVE, "compute_resume_instance", request_id
        )

    def _power_task(
        self,
        instance: Instance,
        work: Callable[[Instance], None],
        vm_state: str,
        event: str,
        request_id: str | None,
    ) -> None:
        """Run one power operation; on failure the server keeps its vm_state, its task
        is cleared and the fault recorded (as Nova does for these actions)."""
        with self._lock(instance):
            start = utcnow().isoformat()
            try:
                work(instance)
            except Exception as exc:
                LOG.warning("%s of %s failed: %s", event, instance["uuid"], exc)
                values = {"task_state": None, **self._power(instance)}
                self._finish(instance, values, event, request_id, start, error=exc)
                return
            values = {"vm_state": vm_state, "task_state": None, **self._power(instance)}
            self._finish(instance, values, event, request_id, start)

    # -- rebuild, snapshot, console -----------------------------------------------------

    def rebuild_instance(self, instance: Instance, request_id: str | None = None) -> None:
        """Boot the server again from ``instance["image_ref"]`` (already the new image),
        keeping its ports; a stopped server is left stopped."""
        with self._lock(instance):
            start = utcnow().isoformat()
            instance = self._current(instance)
            was_stopped = instance["vm_state"] == states.STOPPED
            try:
                self.driver.destroy(instance)
                self.driver.spawn(instance, instance["network_info"])
                if was_stopped:
                    self.driver.power_off(instance)
            except Exception as exc:
                values = {"vm_state": states.ERROR, "task_state": None, **self._power(instance)}
                self._finish(
                    instance, values, "compute_rebuild_instance", request_id, start, error=exc
                )
                return
            values = {
                "vm_state": states.STOPPED if was_stopped else states.ACTIVE,
                "task_state": None,
                "launched_at": utcnow().isoformat(),
                **self._power(instance),
            }
            self._finish(instance, values, "compute_rebuild_instance", request_id, start)

    def snapshot_instance(
        self, instance: Instance, image_id: str, request_id: str | None = None
    ) -> None:
        """Upload the server's disk into the (queued) image the API made for it; if that
        fails the image is deleted and the server carries on as it was."""
        with self._lock(instance):
            start = utcnow().isoformat()
            try:
                if self.images is None:
                    raise RuntimeError("This cloud has no image service to store snapshots in.")
                images = self.images
                self.driver.snapshot(instance, lambda path: images.upload(image_id, path))
            except Exception as exc:
                LOG.warning("snapshot of %s failed: %s", instance["uuid"], exc)
                if self.images is not None:
                    self.images.delete(image_id)
                self._finish(
                    instance,
                    {"task_state": None},
                    "compute_snapshot_instance",
                    request_id,
                    start,
                    error=exc,
                )
                return
            self._finish(
                instance, {"task_state": None}, "compute_snapshot_instance", request_id, start
            )

    def get_host_uptime(self) -> str:
        """This host's time, uptime and load, as ``uptime`` prints them."""
        seconds = int(float(Path("/proc/uptime").read_text().split()[0]))
        days, rest = divmod(seconds, 86400)
        hours, minutes = divmod(rest // 60, 60)
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        since = f"{days} day{'s' if days != 1 else ''}, " if days else ""
        now = time.strftime("%H:%M:%S")
        return f" {now} up {since}{hours:2d}:{minutes:02d},  0 users,  load average: {load}"

    def get_console_output(self, instance: Instance, length: int | None = None) -> str:
        lines = self.driver.get_console_output(instance).splitlines()
        keep = CONSOLE_MAX_LINES if length is None else min(length, CONSOLE_MAX_LINES)
        return "\n".join(lines[-keep:] if keep else []) + ("\n" if keep and lines else "")

    def get_serial_console(self, instance: Instance) -> dict[str, Any]:
        """Where the server's serial port listens (``host``, ``port``), and the URL of the
        serial proxy that reaches it (``base_url``)."""
        console = self.driver.get_serial_console(instance)
        return {**console, "base_url": self.conf.serial_console.base_url}

    # -- interfaces ---------------------------------------------------------------------

    def attach_interface(
        self, instance: Instance, item: dict[str, Any], request_id: str | None = None
    ) -> dict[str, Any]:
        """Make or bind the port ``item`` asks for (``{"network_id", "fixed_ip"}`` or
        ``{"port_id"}``, and a ``tag``) and plug it into the server: its network_info
        entry. On failure nothing is left: a port made is deleted, a given one let go."""
        with self._lock(instance):
            start = utcnow().isoformat()
            vif: dict[str, Any] | None = None
            try:
                vif = self.networking.allocate_one(instance, instance["host"], item)
                if item.get("tag"):
                    vif["tag"] = item["tag"]
                self.driver.attach_interface(instance, vif)
            except Exception as exc:
                LOG.warning("attaching an interface to %s failed: %s", instance["uuid"], exc)
                if vif is not None:
                    self.networking.release(vif)
                self._finish(instance, {}, "compute_attach_interface", request_id, start, error=exc)
                raise
            kept = self._conductor(
                "interface_attached",
                instance_uuid=instance["uuid"],
                vif=vif,
                agent_host=instance["host"],
                request_id=request_id,
                start_time=start,
            )
            if kept is None:  # deleted meanwhile: the delete knows nothing of this port
                self.driver.detach_interface(instance, vif)
                self.networking.release(vif)
                raise InterfaceGone(f"Server {instance['uuid']} is being deleted.")
            return vif

    def detach_interface(
        self, instance: Instance, port_id: str, request_id: str | None = None
    ) -> None:
        """Unplug the port from the server, then delete it if the server made it or let it
        go if it was given."""
        with self._lock(instance):
            start = utcnow().isoformat()
            vifs = [v for v in instance["network_info"] or [] if v["port_id"] == port_id]
            if not vifs:
                raise InterfaceGone(f"Server {instance['uuid']} has no port {port_id}.")
            try:
                self.driver.detach_interface(instance, vifs[0])
                self.networking.release(vifs[0])
            except Exception as exc:
                LOG.warning("detaching port %s from %s failed: %s", port_id, instance["uuid"], exc)
                self._finish(instance, {}, "compute_detach_interface", request_id, start, error=exc)
                raise
            self._conductor(
                "interface_detached",
                instance_uuid=instance["uuid"],
                port_id=port_id,
                agent_host=instance["host"],
                request_id=request_id,
                start_time=start,
            )

    # -- resize -------------------------------------------------------------------------

    def resize_instance(
        self, instance: Instance, migration: dict[str, Any], request_id: str | None = None
    ) -> None:
        """The source side: stop the server and hand its disks to the destination."""
        with self._lock(instance):
            try:
                self.driver.migrate_disk_and_power_off(instance, migration["dest_compute"])
            except Exception as exc:
                self._resize_failed(
                    migration, instance["host"], exc, request_id, "compute_resize_instance"
                )
                return
        self.bus.cast(
            CONDUCTOR_TOPIC,
            "resize_migrated",
            migration_uuid=migration["uuid"],
            request_id=request_id,
        )

    def finish_resize(
        self, instance: Instance, migration: dict[str, Any], request_id: str | None = None
    ) -> None:
        """The destination side: run the server with its new flavor."""
        resized = {
            **instance,
            "host": migration["dest_compute"],
            "node": migration["dest_node"],
            "flavor": instance["new_flavor"],
        }
        with self._lock(instance):
            start = utcnow().isoformat()
            power_on = instance["vm_state"] != states.STOPPED
            try:
                self.driver.finish_migration(resized, instance["network_info"], power_on)
            except Exception as exc:
                self._resize_failed(
                    migration, resized["host"], exc, request_id, "compute_finish_resize"
                )
                return
            self.bus.call(
                CONDUCTOR_TOPIC,
                "resize_finished",
                migration_uuid=migration["uuid"],
                agent_host=resized["host"],
                power_state=self.driver.power_state(resized),
                request_id=request_id,
                start_time=start,
            )

    def confirm_resize(
        self, instance: Instance, migration: dict[str, Any], request_id: str | None = None
    ) -> None:
        """On the source: remove what the resize left there."""
        with self._lock(instance):
            start = utcnow().isoformat()
            target = {**instance, "host": migration["dest_compute"]}
            self.driver.confirm_migration(target, migration["source_compute"])
            self.bus.call(
                CONDUCTOR_TOPIC,
                "resize_confirmed",
                migration_uuid=migration["uuid"],
                agent_host=migration["source_compute"],
                request_id=request_id,
                start_time=start,
            )

    def revert_resize(
        self, instance: Instance, migration: dict[str, Any], request_id: str | None = None
    ) -> None:
        """On the destination: remove the resized server, then the source takes over."""
        with self._lock(instance):
            self.driver.revert_migration(instance, migration["source_compute"])
        self.bus.cast(
            CONDUCTOR_TOPIC,
            "resize_reverted_on_destination",
            migration_uuid=migration["uuid"],
            request_id=request_id,
        )

    def finish_revert_resize(
        self, instance: Instance, migration: dict[str, Any], request_id: str | None = None
    ) -> None:
        with self._lock(instance):
            start = utcnow().isoformat()
            try:
                self.driver.finish_revert_migration(instance, instance["network_info"], True)
            except Exception as exc:
                self._resize_failed(
                    migration, instance["host"], exc, request_id, "compute_finish_revert_resize"
                )
                return
            self.bus.call(
                CONDUCTOR_TOPIC,
                "resize_reverted",
                migration_uuid=migration["uuid"],
                agent_host=instance["host"],
                power_state=self.driver.power_state(instance),
                request_id=request_id,
                start_time=start,
            )

    def _resize_failed(
        self,
        migration: dict[str, Any],
        host: str,
        exc: Exception,
        request_id: str | None,
        event: str,
    ) -> None:
        LOG.warning("%s of %s failed: %s", event, migration["instance_uuid"], exc)
        self.bus.cast(
            CONDUCTOR_TOPIC,
            "resize_failed",
            migration_uuid=migration["uuid"],
            agent_host=host,
            message=_message(exc),
            details=_details(exc),
            request_id=request_id,
            event=event,
        )

    # -- helpers ------------------------------------------------------------------------

    def _lock(self, instance: Instance) -> AbstractContextManager[None]:
        return self._locks.hold(instance["uuid"])

    def _power(self, instance: Instance) -> dict[str, int]:
        try:
            return {"power_state": self.driver.power_state(instance)}
        except Exception:
            LOG.exception("cannot read the power state of %s", instance["uuid"])
            return {}

    def _finish(
        self,
        instance: Instance,
        values: dict[str, Any],
        event: str,
        request_id: str | None = None,
        start: str | None = None,
        *,
        expected: list[str | None] | None = None,
        error: Exception | None = None,
    ) -> dict[str, Any] | None:
        return self.bus.call(
            CONDUCTOR_TOPIC,
            "finish_task",
            instance_uuid=instance["uuid"],
            values=values,
            event=event,
            agent_host=instance["host"],
            request_id=request_id,
            start_time=start,
            expected_task_states=expected,
            fault=_message(error) if error else None,
            fault_details=_details(error) if error else "",
        )

    def _current(self, instance: Instance) -> Instance:
        """``instance`` with its ports as recorded now, for an action that makes its
        domain anew (read under the server's lock: no attach or detach runs meanwhile)."""
        recorded = self._conductor("network_info", instance_uuid=instance["uuid"])
        return instance if recorded is None else {**instance, "network_info": recorded}

    def _conductor(self, method: str, **kwargs: Any) -> Any:
        return self.bus.call(CONDUCTOR_TOPIC, method, **kwargs)


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _details(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))
