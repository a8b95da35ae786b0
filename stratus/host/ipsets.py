"""IP sets that firewall rules match whole groups of addresses against.

A set's contents are replaced atomically: the new members go into a scratch set that is
then swapped with the live one in the same ``ipset restore`` run, so a rule matching the
set never sees it half-filled.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stratus.host import commands

_SCRATCH = "-n"
_FAMILY = {4: "inet", 6: "inet6"}


@dataclass(frozen=True)
class IpSet:
    name: str
    family: int
    members: tuple[str, ...]


def set_name(prefix: str, family: int, key: str) -> str:
    """A short stable name for the set of ``key`` (set names hold 31 characters)."""
    return f"{prefix}{family}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def names(prefix: str) -> list[str]:
    """The sets of ``prefix`` that exist now (scratch sets left by a crash included)."""
    ours = re.compile(rf"^{re.escape(prefix)}[46]-[0-9a-f]{{12}}({_SCRATCH})?$")
    listed = commands.run(["ipset", "list", "-n"]).split()
    return sorted(name for name in listed if ours.match(name))


def restore_input(sets: Sequence[IpSet]) -> str:
    """``ipset restore`` input that creates each set if needed and swaps in its members."""
    out: list[str] = []
    for s in sets:
        scratch = s.name + _SCRATCH
        kind = f"hash:net family {_FAMILY[s.family]}"
        out += [f"create {s.name} {kind} -exist", f"create {scratch} {kind} -exist"]
        out.append(f"flush {scratch}")
        out += [f"add {scratch} {net} -exist" for net in _networks(s.members)]
        out += [f"swap {scratch} {s.name}", f"destroy {scratch}"]
    return "".join(line + "\n" for line in out)


def apply(sets: Sequence[IpSet]) -> None:
    if sets:
        commands.run(["ipset", "restore"], stdin=restore_input(sets))


def destroy(set_names: Iterable[str]) -> None:
    """Destroy sets that no rule references any more."""
    batch = "".join(f"destroy {name}\n" for name in sorted(set_names))
    if batch:
        commands.run(["ipset", "restore"], stdin=batch)


def _networks(members: Iterable[str]) -> list[str]:
    """Members as networks; hash:net refuses a /0, so it becomes its two halves."""
    out: list[str] = []
    for member in members:
        net = ipaddress.ip_network(member, strict=False)
        out += [str(half) for half in net.subnets()] if net.prefixlen == 0 else [str(net)]
    return sorted(set(out))
