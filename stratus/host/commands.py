"""Running the few host tools that have no netlink API (iptables-restore, ipset, dnsmasq)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from stratus.host import namespaces
from stratus.host.errors import HostError


def run(argv: Sequence[str], *, stdin: str | None = None, namespace: str | None = None) -> str:
    """Run a command to completion (inside ``namespace`` if given) and return its stdout."""
    if namespace is None:
        return _run(argv, stdin)
    return namespaces.run_in(namespace, _run, argv, stdin)


def _run(argv: Sequence[str], stdin: str | None) -> str:
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise HostError(f"{argv[0]} is not installed") from e
    if done.returncode != 0:
        raise HostError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout
