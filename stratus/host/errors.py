"""The one error the host layer raises when the host refuses what was asked."""


class HostError(Exception):
    """A host operation failed; the message says what and why."""
