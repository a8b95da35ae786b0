"""Named network namespaces (``/run/netns/NAME``, as ``ip netns`` makes them).

Code runs inside a namespace on a short-lived thread that has entered it with setns(2):
the network namespace is per thread, so the rest of the process is unaffected, and any
socket or child process made on that thread belongs to the namespace. A namespace is made
the same way (unshare(2) on a short-lived thread, then its ``/proc`` entry bind-mounted
where ``ip netns`` looks), and netlink sockets into one are opened on such a thread too:
never a fork (pyroute2 forks for both, and a fork of this many-threaded process can
deadlock on a lock another thread held).
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pyroute2 import IPRoute, netns

from stratus.host.errors import HostError

RUN_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_SHARED = 1 << 20
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
        _on_thread(_new_namespace, name)
    with IPRoute(fileno=netlink_socket(name)) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


def netlink_socket(name: str) -> int:
    """The file descriptor of a new rtnetlink socket inside the namespace (the caller owns
    it: ``IPRoute(fileno=...)`` takes it over)."""
    return run_in(name, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0).detach())


def _new_namespace(name: str) -> None:
    """On a thread of its own: a new network namespace, kept by a bind mount at its path
    (what ``ip netns add`` does, /run/netns made a shared mount as it makes it)."""
    os.makedirs(RUN_DIR, exist_ok=True)
    if _mount(b"", RUN_DIR, _MS_SHARED | _MS_REC) != 0:
        if _mount(RUN_DIR.encode(), RUN_DIR, _MS_BIND | _MS_REC) != 0:
            raise HostError(f"cannot mount {RUN_DIR}: {os.strerror(ctypes.get_errno())}")
        _mount(b"", RUN_DIR, _MS_SHARED | _MS_REC)
    path = _path(name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    try:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            raise HostError(f"cannot make namespace {name}: {os.strerror(ctypes.get_errno())}")
        own = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
        if _mount(own, path, _MS_BIND) != 0:
            raise HostError(f"cannot keep namespace {name}: {os.strerror(ctypes.get_errno())}")
    except BaseException:
        os.unlink(path)
        raise


def _mount(source: bytes, target: str, flags: int) -> int:
    return _libc.mount(source, target.encode(), b"none", flags, None)


def delete(name: str) -> None:
    """Remove the namespace if it exists. Its links go with it once no process holds it."""
    if exists(name):
        netns.remove(name)


def run_in(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` inside the namespace and return its result."""

    def inside() -> T:
        _enter(name)
        return fn(*args, **kwargs)

    return _on_thread(inside)


def _on_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a short-lived thread (whose namespaces it may change), its result
    or exception handed back."""
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as e:  # handed back to the caller's thread
            outcome["error"] = e

    thread = threading.Thread(target=call, name="netns")
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
