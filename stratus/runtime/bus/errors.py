"""What the bus raises at a caller."""

from __future__ import annotations


class BusError(Exception):
    """The bus could not do what was asked (closed, broker unreachable, bad arguments)."""


class BusTimeout(BusError):
    """Nobody answered a call in time, or nobody listens on its topic."""


class RemoteError(BusError):
    """The remote method raised: its exception's class name, message and traceback."""

    def __init__(self, exc_type: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{exc_type}: {message}")
        self.exc_type = exc_type
        self.message = message
        self.remote_traceback = remote_traceback


class UnknownMethod(BusError):
    """Raised at the listener, and seen by the caller as ``RemoteError`` with this type."""
