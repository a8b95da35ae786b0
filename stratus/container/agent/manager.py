"""The container agent: does what the API casts, and keeps the API's records in step with
the engine (at start, every ``report_interval`` seconds, and after every action).

It never touches the database: it reports to the API's conductor topic.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from stratus.container import states
from stratus.container.agent.driver import (
    ContainerMissing,
    Driver,
    DriverUnavailable,
    ImageData,
    State,
)
from stratus.container.images import ImageClient
from stratus.container.rpc import CONDUCTOR_TOPIC
from stratus.runtime.bus import Bus
from stratus.runtime.keyed_locks import KeyedLocks

LOG = logging.getLogger(__name__)

# Records the agent leaves alone when the engine has no such container: the API made
# them and a create or delete for them is on its way or being redone.
_NOT_YET = frozenset({states.CREATING, states.DELETING})


class ContainerAgent:
    """The endpoint of ``container-agent`` on one host."""

    def __init__(
        self,
        bus: Bus,
        driver: Driver,
        host: str,
        zone: str,
        image_data: Callable[[str], ImageData],
        images: ImageClient | None = None,
        console_url: str | None = None,
        image_max_age: float = 0,
    ) -> None:
        self.bus = bus
        self.driver = driver
        self.host = host
        self.zone = zone
        self.image_data = image_data  # image id -> its data, from the image service
        self.images = images  # where commit uploads
        self.console_url = console_url  # this host's websocket proxy
        self.image_max_age = image_max_age  # unused images are kept this long (0: for ever)
        self._lock = threading.Lock()  # one reconciliation at a time
        self._creates = KeyedLocks()  # one create of a container at a time

    # --- what the API casts ---------------------------------------------------------

    def create(self, container: dict[str, Any], start: bool) -> None:
        """Make (and start) the container; a second create of it (a reconciliation that
        met the API's create in flight) finds it made, and only starts it if asked to and
        it never ran."""
        uuid = container["uuid"]
        with self._creates.hold(uuid):
            try:
                made = self.driver.state(uuid)
                if made is None:
                    self.driver.create(container, self.image_data(container["image_id"] or ""))
                elif not (start and made.status == states.CREATED):
                    return
                if start:
                    self.driver.start(uuid)
            except Exception as exc:  # any failure is the container's Error, with the reason
                LOG.warning("container %s could not be made: %s", uuid, exc)
                with suppress(Exception):  # nothing half-made stays: the API frees its ports
                    self.driver.delete(uuid)
                self._report(uuid, State(states.ERROR, str(exc)))
                return
            self._report_current(uuid)

    def start(self, uuid: str) -> None:
        self._do(uuid, self.driver.start, uuid)

    def stop(self, uuid: str, timeout: int) -> None:
        self._do(uuid, self.driver.stop, uuid, timeout)

    def reboot(self, uuid: str, timeout: int) -> None:
        self._do(uuid, self.driver.restart, uuid, timeout)

    def pause(self, uuid: str) -> None:
        self._do(uuid, self.driver.pause, uuid)

    def unpause(self, uuid: str) -> None:
        self._do(uuid, self.driver.unpause, uuid)

    def kill(self, uuid: str, signal: str | int) -> None:
        self._do(uuid, self.driver.kill, uuid, signal)

    def update(self, uuid: str, cpu: float, memory: int) -> None:
        self._do(uuid, self.driver.update, uuid, cpu, memory)

    def network_attach(self, uuid: str, port: dict[str, Any]) -> None:
        """Plug a port the API made for the container (a dict as the spec's ``ports``
        list them); a failure is reported as the container's reason."""
        self._do(uuid, self.driver.network_attach, uuid, port)

    def network_detach(self, uuid: str, port_id: str) -> None:
        self._do(uuid, self.driver.network_detach, uuid, port_id)

    def delete(self, uuid: str) -> None:
        try:
            self.driver.delete(uuid)
        except DriverUnavailable as exc:  # the record stays Deleting; reconcile retries
            LOG.warning("container %s could not be deleted yet: %s", uuid, exc)
            return
        self.bus.cast(CONDUCTOR_TOPIC, "report_deleted", uuid=uuid)

    def commit(self, uuid: str, repository: str, tag: str, image_id: str, token: str) -> None:
        """Upload the container's snapshot as the image the API made (with the caller's
        token); if that fails, the image is deleted again and the reason reported."""
        assert self.images is not None, "an agent that commits needs the image service"
        try:
            self.images.upload(image_id, self.driver.commit(uuid, repository, tag), token)
        except Exception as exc:  # the engine or the image service refused: say which
            LOG.warning("container %s could not be committed: %s", uuid, exc)
            with suppress(Exception):
                self.images.delete(image_id, token)
            try:
                self._report_current(uuid, reason=f"Commit failed: {exc}")
            except DriverUnavailable:
                self._report(uuid, State(states.ERROR, f"Commit failed: {exc}"))
            return
        self._report_current(uuid)

    # --- what the API calls ---------------------------------------------------------

    def logs(self, uuid: str, **options: Any) -> str:
        return self.driver.logs(uuid, **options)

    def top(self, uuid: str, ps_args: str | None) -> dict[str, Any]:
        return self.driver.top(uuid, ps_args)

    def stats(self, uuid: str) -> dict[str, Any]:
        return self.driver.stats(uuid)

    def execute(self, uuid: str, command: list[str]) -> dict[str, Any]:
        output, exit_code = self.driver.execute(uuid, command)
        return {"output": output, "exit_code": exit_code}

    def exec_create(self, uuid: str, command: list[str]) -> str:
        return self.driver.exec_create(uuid, command)

    def exec_resize(self, uuid: str, exec_id: str, height: int, width: int) -> None:
        self.driver.exec_resize(exec_id, height, width)

    def resize(self, uuid: str, height: int, width: int) -> None:
        self.driver.resize(uuid, height, width)

    def refresh(self, uuid: str) -> None:
        """Report a container the engine says changed (it died, say), if it still exists.
        The event may come from an action under way (a stop's SIGTERM, a commit's pause):
        the action is over only when its own report comes."""
        state = self.driver.state(uuid)
        if state is not None:
            self._report(uuid, state, done=False)

    # --- reconciliation -------------------------------------------------------------

    def reconcile(self) -> None:
        """Report the host, then make records and engine agree: finish interrupted
        deletes, redo interrupted creates, remove what no record wants, report states."""
        with self._lock:
            try:  # the engine is read before the records: what it holds was recorded
                info = self.driver.host_info()
                actual = self.driver.states()
                owners = self.driver.volume_owners()
            except DriverUnavailable as exc:
                self._engine_down(str(exc))
                return
            self._report_host(info.cpus, info.memory_mb, None)
            wanted = {c["uuid"]: c for c in self._wanted()}
            for uuid in (actual.keys() | owners) - wanted.keys():
                LOG.info("removing container %s and its volumes, which no record wants", uuid)
                self.driver.delete(uuid)
            for uuid, record in wanted.items():
                self._reconcile_one(record, actual.get(uuid))

    def _reconcile_one(self, record: dict[str, Any], state: State | None) -> None:
        uuid = record["uuid"]
        if record["status"] == states.DELETING:
            self.delete(uuid)
            return
        if not _agrees(state, record):
            # The engine was read before the records: a container made or changed since
            # (a create that finished meanwhile) is asked again, not reported gone or stale.
            try:
                state = self.driver.state(uuid)
            except DriverUnavailable:
                return  # the next round sees the engine again
        if state is None and record["status"] == states.CREATING:
            self.create(record, start=bool(record.get("start_requested")))
        elif state is None:
            if record["status"] != states.ERROR:  # an Error keeps the reason it has
                self._report(uuid, State(states.ERROR, "The container is gone from the engine."))
        elif record["auto_remove"] and state.status == states.STOPPED:
            self.delete(uuid)  # Zun's auto_remove: a container that exits is removed
        elif not _agrees(state, record):
            self._report(uuid, state)

    def forget_unused_images(self) -> None:
        """Let go of the images no container used for ``image_max_age`` seconds."""
        if self.image_max_age <= 0:
            return
        try:
            forgotten = self.driver.forget_unused_images(self.image_max_age)
        except DriverUnavailable:
            return  # the reconciliation reports the engine
        if forgotten:
            LOG.info("images unused for %s s let go: %s", self.image_max_age, forgotten)

    def _engine_down(self, reason: str) -> None:
        LOG.warning("container engine unavailable: %s", reason)
        self._report_host(0, 0, reason)
        for record in self._wanted():
            if record["status"] not in _NOT_YET:
                self._report(record["uuid"], State(states.ERROR, reason))

    # --- helpers --------------------------------------------------------------------

    def _do(self, uuid: str, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except ContainerMissing:
            self._report(uuid, State(states.ERROR, "The container is gone from the engine."))
            return
        except DriverUnavailable as exc:
            self._report(uuid, State(states.ERROR, str(exc)))
            return
        except Exception as exc:  # the engine refused: keep the state, say why
            LOG.warning("container %s: %s failed: %s", uuid, action.__name__, exc)
            self._report_current(uuid, reason=str(exc))
            return
        self._report_current(uuid)

    def _report_current(self, uuid: str, reason: str | None = None) -> None:
        state = self.driver.state(uuid)
        if state is None:
            state = State(states.ERROR, "The container is gone from the engine.")
        elif reason:
            state = State(state.status, reason, state.detail)
        self._report(uuid, state)

    def _report(self, uuid: str, state: State, done: bool = True) -> None:
        self.bus.cast(
            CONDUCTOR_TOPIC,
            "report_state",
            uuid=uuid,
            status=state.status,
            reason=state.reason,
            detail=state.detail,
            done=done,
        )

    def _report_host(self, cpus: int, memory_mb: int, driver_status: str | None) -> None:
        self.bus.cast(
            CONDUCTOR_TOPIC,
            "report_host",
            hostname=self.host,
            zone=self.zone,
            cpus=cpus,
            memory_mb=memory_mb,
            driver_status=driver_status,
            console_url=self.console_url,
        )

    def _wanted(self) -> list[dict[str, Any]]:
        return self.bus.call(CONDUCTOR_TOPIC, "host_containers", hostname=self.host)


def _agrees(state: State | None, record: dict[str, Any]) -> bool:
    """Whether the engine's state of a container is what its record says."""
    return state is not None and (state.status, state.detail) == (
        record["status"],
        record.get("status_detail"),
    )
