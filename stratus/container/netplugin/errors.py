"""The one error the plugin answers Docker with."""

from __future__ import annotations


class PluginError(Exception):
    """The request cannot be done; the message (Docker shows it to the user) says why."""
