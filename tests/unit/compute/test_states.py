"""Server states: the status shown for each state, status filters, allowed transitions."""

from __future__ import annotations

import pytest

from stratus.compute import states


@pytest.mark.parametrize(
    ("vm_state", "task_state", "status"),
    [
        (states.BUILDING, states.SCHEDULING, "BUILD"),
        (states.ACTIVE, None, "ACTIVE"),
        (states.ACTIVE, states.POWERING_OFF, "ACTIVE"),
        (states.ACTIVE, states.REBOOTING, "REBOOT"),
        (states.ACTIVE, states.REBOOTING_HARD, "HARD_REBOOT"),
        (states.ACTIVE, states.RESIZE_PREP, "RESIZE"),
        (states.ACTIVE, states.REBUILDING, "REBUILD"),
        (states.STOPPED, None, "SHUTOFF"),
        (states.STOPPED, states.RESIZE_MIGRATING, "RESIZE"),
        (states.PAUSED, None, "PAUSED"),
        (states.SUSPENDED, None, "SUSPENDED"),
        (states.RESIZED, None, "VERIFY_RESIZE"),
        (states.RESIZED, states.RESIZE_REVERTING, "REVERT_RESIZE"),
        (states.ERROR, None, "ERROR"),
        (states.ERROR, states.REBUILDING, "REBUILD"),
        (states.DELETED, None, "DELETED"),
        ("nonsense", None, "UNKNOWN"),
    ],
)
def test_status(vm_state: str, task_state: str | None, status: str) -> None:
    assert states.status(vm_state, task_state) == status


def test_status_queries() -> None:
    active = states.status_queries(["active"])
    assert active == [states.StatusQuery(states.ACTIVE, None)]
    reboot = {(q.vm_state, q.task_states) for q in states.status_queries(["REBOOT"])}
    assert (states.ACTIVE, frozenset({states.REBOOTING})) in reboot
    assert (states.STOPPED, frozenset({states.REBOOTING})) in reboot
    assert states.status_queries(["NOPE"]) == []
    assert "VERIFY_RESIZE" in states.STATUSES and "NOPE" not in states.STATUSES


@pytest.mark.parametrize(
    ("action", "vm_state", "task_state", "allowed"),
    [
        ("start", states.STOPPED, None, True),
        ("start", states.ACTIVE, None, False),
        ("stop", states.ACTIVE, None, True),
        ("stop", states.ERROR, None, True),
        ("stop", states.ACTIVE, states.POWERING_OFF, False),
        ("reboot", states.STOPPED, None, False),
        ("reboot_hard", states.STOPPED, None, True),
        ("reboot_hard", states.ACTIVE, states.REBOOTING, True),
        ("pause", states.ACTIVE, None, True),
        ("unpause", states.ACTIVE, None, False),
        ("resume", states.SUSPENDED, None, True),
        ("resize", states.STOPPED, None, True),
        ("resize", states.PAUSED, None, False),
        ("confirmResize", states.RESIZED, None, True),
        ("confirmResize", states.ACTIVE, None, False),
        ("rebuild", states.ERROR, None, True),
        ("createImage", states.SUSPENDED, None, True),
        ("createImage", states.BUILDING, None, False),
        ("delete", states.BUILDING, states.SPAWNING, True),
        ("delete", states.ACTIVE, states.DELETING, True),
        ("delete", states.DELETED, None, False),
    ],
)
def test_transitions(action: str, vm_state: str, task_state: str | None, allowed: bool) -> None:
    assert states.TRANSITIONS[action].allows(vm_state, task_state) is allowed
