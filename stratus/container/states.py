"""Container states (Zun's ``status``) and which actions each one allows."""

from __future__ import annotations

CREATING = "Creating"
CREATED = "Created"
RUNNING = "Running"
STOPPED = "Stopped"
PAUSED = "Paused"
RESTARTING = "Restarting"
ERROR = "Error"
DELETING = "Deleting"
UNKNOWN = "Unknown"

# The states in which the action may be asked for (others are a 409).
ALLOWED: dict[str, frozenset[str]] = {
    "start": frozenset({CREATED, STOPPED}),
    "stop": frozenset({RUNNING, RESTARTING}),
    "reboot": frozenset({CREATED, RUNNING, STOPPED, RESTARTING}),
    "pause": frozenset({RUNNING}),
    "unpause": frozenset({PAUSED}),
    "kill": frozenset({RUNNING}),
    "logs": frozenset({CREATED, RUNNING, STOPPED, PAUSED, RESTARTING, ERROR}),
    "top": frozenset({RUNNING, PAUSED}),
    "stats": frozenset({RUNNING, PAUSED, STOPPED, CREATED}),
    "execute": frozenset({RUNNING}),
    "exec_create": frozenset({RUNNING}),
    "exec_resize": frozenset({RUNNING}),
    "attach": frozenset({RUNNING}),
    "resize": frozenset({RUNNING}),
    "commit": frozenset({RUNNING, STOPPED, PAUSED}),
    "update": frozenset({CREATED, RUNNING, STOPPED, PAUSED}),
    "network_attach": frozenset({CREATED, RUNNING, STOPPED}),
    "network_detach": frozenset({CREATED, RUNNING, STOPPED}),
    "add_security_group": frozenset({CREATED, RUNNING, STOPPED, PAUSED}),
    "remove_security_group": frozenset({CREATED, RUNNING, STOPPED, PAUSED}),
    "rename": frozenset({CREATED, RUNNING, STOPPED, PAUSED, ERROR}),
    # Deleting without force: a container that is not running (running needs stop=True).
    "delete": frozenset({CREATED, STOPPED, ERROR, UNKNOWN}),
    "delete_stop": frozenset({CREATED, RUNNING, STOPPED, PAUSED, RESTARTING, ERROR, UNKNOWN}),
}

# States that hold their host's resources (everything but a container being removed).
HOLDING = frozenset({CREATING, CREATED, RUNNING, STOPPED, PAUSED, RESTARTING, ERROR, UNKNOWN})
