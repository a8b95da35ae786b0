"""Named network namespaces (``/run/netns/NAME``, as ``ip netns`` makes them).

Code runs inside a namespace on a short-lived thread that has entered it with setns(2):
the network namespace is per thread, so the rest of the process is unaffected, and any
socket or child process made on that thread belongs to the namespace. No ``ip netns
exec`` fork is needed.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pyroute2 import IPRoute, netns

from stratus.host.errors import HostError

RUN_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

T = TypeVar("T")


def exists(name: str) -> bool:
    return os.path.exists(_path(name))


def names(prefix: str = "") -> list[str]:
    """Names of the existing namespaces that start with ``prefix``, sorted."""
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def create(name: str) -> None:
    """Make the namespace if it is missing, with its loopback up."""
    if not exists(name):
        netns.create(name)
    with IPRoute(netns=name, flags=0) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


def delete(name: str) -> None:
    """Remove the namespace if it exists. Its links go with it once no process holds it."""
    if exists(name):
        netns.remove(name)


def run_in(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` inside the namespace and return its result."""
    outcome: dict[str, Any] = {}

    def inside() -> None:
        try:
            _enter(name)
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed back to the caller's thread
            outcome["error"] = e

    thread = threading.Thread(target=inside, name=f"netns:{name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _enter(name: str) -> None:
    try:
        fd = os.open(_path(name), os.O_RDONLY)
    except FileNotFoundError as e:
        raise HostError(f"network namespace {name} does not exist") from e
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise HostError(f"cannot enter network namespace {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def _path(name: str) -> str:
    return os.path.join(RUN_DIR, name)
