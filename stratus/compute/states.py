"""Server states: the vm_state a server rests in, the task_state of work under way, the
power_state its domain was last seen in, and the status the API shows for them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# vm_state: where the server rests.
ACTIVE = "active"
BUILDING = "building"
STOPPED = "stopped"
PAUSED = "paused"
SUSPENDED = "suspended"
RESIZED = "resized"
ERROR = "error"
DELETED = "deleted"

# task_state: what is being done to it.
SCHEDULING = "scheduling"
NETWORKING = "networking"
SPAWNING = "spawning"
POWERING_ON = "powering-on"
POWERING_OFF = "powering-off"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
REBUILDING = "rebuilding"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_UPLOADING = "image_uploading"
DELETING = "deleting"

# power_state: what the hypervisor says, as Nova numbers it.
NOSTATE = 0
RUNNING = 1
POWER_PAUSED = 3
SHUTDOWN = 4
CRASHED = 6
POWER_SUSPENDED = 7

POWER_STATE_NAMES = {
    NOSTATE: "NOSTATE",
    RUNNING: "Running",
    POWER_PAUSED: "Paused",
    SHUTDOWN: "Shutdown",
    CRASHED: "Crashed",
    POWER_SUSPENDED: "Suspended",
}

_REBOOT = {REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT"}
_RESIZE = {RESIZE_PREP: "RESIZE", RESIZE_MIGRATING: "RESIZE", RESIZE_FINISH: "RESIZE"}
_REBUILD = {REBUILDING: "REBUILD"}

# vm_state -> (status when no task changes it, {task_state: status}).
_STATUS: dict[str, tuple[str, dict[str, str]]] = {
    ACTIVE: ("ACTIVE", {**_REBOOT, **_RESIZE, **_REBUILD}),
    BUILDING: ("BUILD", {}),
    STOPPED: ("SHUTOFF", {**_RESIZE, **_REBUILD, **_REBOOT}),
    PAUSED: ("PAUSED", {REBOOTING_HARD: "HARD_REBOOT"}),
    SUSPENDED: ("SUSPENDED", {REBOOTING_HARD: "HARD_REBOOT"}),
    RESIZED: ("VERIFY_RESIZE", {RESIZE_REVERTING: "REVERT_RESIZE"}),
    ERROR: ("ERROR", {**_REBUILD, REBOOTING_HARD: "HARD_REBOOT"}),
    DELETED: ("DELETED", {}),
}

STATUSES = frozenset(
    status for default, tasks in _STATUS.values() for status in (default, *tasks.values())
)


def status(vm_state: str, task_state: str | None) -> str:
    """The API's ``status`` of a server."""
    default, tasks = _STATUS.get(vm_state, ("UNKNOWN", {}))
    return tasks.get(task_state or "", default)


@dataclass(frozen=True)
class StatusQuery:
    """The (vm_state, task_state) pairs a status filter selects: ``task_states`` None
    means any task that does not change the status; a set means one of those tasks."""

    vm_state: str
    task_states: frozenset[str] | None


def status_queries(statuses: Iterable[str]) -> list[StatusQuery]:
    wanted = {s.upper() for s in statuses}
    queries = []
    for vm_state, (default, tasks) in _STATUS.items():
        if default in wanted:
            queries.append(StatusQuery(vm_state, None))
        chosen = frozenset(task for task, name in tasks.items() if name in wanted)
        if chosen:
            queries.append(StatusQuery(vm_state, chosen))
    return queries


def status_changing_tasks(vm_state: str) -> frozenset[str]:
    return frozenset(_STATUS.get(vm_state, ("", {}))[1])


@dataclass(frozen=True)
class Transition:
    """Which states an action may start from (``task_states`` None: whatever task runs),
    and the task it sets while it runs."""

    vm_states: frozenset[str]
    task: str
    task_states: frozenset[str | None] | None

    def allows(self, vm_state: str, task_state: str | None) -> bool:
        if vm_state not in self.vm_states:
            return False
        return self.task_states is None or task_state in self.task_states


def _t(task: str, *vm_states: str, tasks: Iterable[str | None] | None = (None,)) -> Transition:
    return Transition(frozenset(vm_states), task, None if tasks is None else frozenset(tasks))


TRANSITIONS: dict[str, Transition] = {
    "start": _t(POWERING_ON, STOPPED),
    "stop": _t(POWERING_OFF, ACTIVE, ERROR),
    "reboot": _t(REBOOTING, ACTIVE),
    "reboot_hard": _t(
        REBOOTING_HARD,
        ACTIVE,
        STOPPED,
        PAUSED,
        SUSPENDED,
        ERROR,
        tasks=(None, REBOOTING, REBOOTING_HARD, PAUSING, UNPAUSING, SUSPENDING, RESUMING),
    ),
    "pause": _t(PAUSING, ACTIVE),
    "unpause": _t(UNPAUSING, PAUSED),
    "suspend": _t(SUSPENDING, ACTIVE),
    "resume": _t(RESUMING, SUSPENDED),
    "resize": _t(RESIZE_PREP, ACTIVE, STOPPED),
    "confirmResize": _t(RESIZE_CONFIRMING, RESIZED),
    "revertResize": _t(RESIZE_REVERTING, RESIZED),
    "rebuild": _t(REBUILDING, ACTIVE, STOPPED, ERROR),
    "createImage": _t(IMAGE_SNAPSHOT, ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "delete": _t(DELETING, *(set(_STATUS) - {DELETED}), tasks=None),
}
