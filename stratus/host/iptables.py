"""Our own iptables chains, changed as one ``iptables-restore --noflush`` batch per family.

Everything an owner installs lives in chains named ``PREFIX-...``, each reached from a
built-in chain by one plain jump inserted at the top. A batch declares every wanted chain
whose rules differ from the installed ones (which creates it, or empties it if it
exists) and fills it, inserts missing jumps, and removes the owner's chains and jumps
that are no longer wanted. Chains of anyone else (Docker's, the administrator's) are never
named in a batch, so they are left as they are. The owner's current chains are read back
with ``iptables-save`` before a batch, so that it also repairs whatever was changed behind
our back -- unless the caller gives what its last batch installed (:func:`installed_of`),
which spares the read and makes the batch hold only what changed since.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from stratus.host import commands

_TOOLS = {4: ("iptables-save", "iptables-restore"), 6: ("ip6tables-save", "ip6tables-restore")}
_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,9}$")


@dataclass(frozen=True)
class Chain:
    """One chain of ours: its table, name, rules (without ``-A NAME``) and, if it is an
    entry point, the built-in chain that jumps to it."""

    table: str
    name: str
    rules: tuple[str, ...]
    hook: str | None = None


@dataclass
class Installed:
    """What an owner has in one family's tables, as read from ``iptables-save``."""

    chains: dict[str, set[str]] = field(default_factory=dict)
    hooks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    rules: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def check_prefix(prefix: str) -> str:
    """Owner prefixes are short (chain names hold 28 characters) and plain."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"owner prefix {prefix!r} must be 1-10 lowercase letters or digits")
    return prefix


def parse_save(text: str, prefix: str) -> Installed:
    """The chains, entry jumps and rules of ``prefix`` in ``iptables-save`` output."""
    ours = f"{prefix}-"
    found = Installed()
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":") and line[1:].startswith(ours):
            found.chains.setdefault(table, set()).add(line[1:].split()[0])
        elif line.startswith("-A "):
            _, chain, spec = line.split(" ", 2)
            if chain.startswith(ours):
                found.rules.setdefault((table, chain), []).append(spec)
            elif spec.startswith("-j ") and spec[3:].startswith(ours) and " " not in spec[3:]:
                found.hooks.setdefault(table, []).append((chain, spec[3:]))
    return found


def restore_input(wanted: Sequence[Chain], installed: Installed) -> str:
    """The ``iptables-restore --noflush`` input that turns ``installed`` into ``wanted``
    (empty when they are the same)."""
    tables = sorted({c.table for c in wanted} | set(installed.chains) | set(installed.hooks))
    out: list[str] = []
    for table in tables:
        chains = [c for c in wanted if c.table == table]
        present_chains = installed.chains.get(table, set())
        changed = [
            c
            for c in chains
            if c.name not in present_chains
            or installed.rules.get((table, c.name), []) != list(c.rules)
        ]
        stale = sorted(present_chains - {c.name for c in chains})
        hooks = {(c.hook, c.name) for c in chains if c.hook}
        present = installed.hooks.get(table, [])
        dropped = [(b, n) for b, n in present if (b, n) not in hooks]
        added = sorted(hooks - set(present))
        if not (changed or stale or dropped or added):
            continue
        out.append(f"*{table}")
        # Declaring a chain creates it, or empties it when it exists (also with --noflush).
        out += [f":{name} - [0:0]" for name in [c.name for c in changed] + stale]
        out += [f"-D {builtin} -j {name}" for builtin, name in dropped]
        out += [f"-I {builtin} 1 -j {name}" for builtin, name in added]
        out += [f"-A {c.name} {rule}" for c in changed for rule in c.rules]
        out += [f"-X {name}" for name in stale]
        out.append("COMMIT")
    return "".join(line + "\n" for line in out)


def installed_of(chains: Sequence[Chain]) -> Installed:
    """What a batch that made ``chains`` left installed, as :func:`read` would find it
    (rule for rule as we wrote them)."""
    found = Installed()
    for chain in chains:
        found.chains.setdefault(chain.table, set()).add(chain.name)
        if chain.hook:
            found.hooks.setdefault(chain.table, []).append((chain.hook, chain.name))
        if chain.rules:
            found.rules[(chain.table, chain.name)] = list(chain.rules)
    return found


def read(family: int, prefix: str, *, namespace: str | None = None) -> Installed:
    """What ``prefix`` has installed now."""
    return parse_save(commands.run([_TOOLS[family][0]], namespace=namespace), prefix)


def apply(
    family: int,
    wanted: Sequence[Chain],
    prefix: str,
    *,
    namespace: str | None = None,
    installed: Installed | None = None,
) -> None:
    """Make the chains of ``prefix`` exactly ``wanted``, in one atomic batch."""
    if installed is None:
        installed = read(family, prefix, namespace=namespace)
    batch = restore_input(wanted, installed)
    if batch.strip():
        commands.run([_TOOLS[family][1], "--noflush", "-w"], stdin=batch, namespace=namespace)


def remove(family: int, prefix: str, *, namespace: str | None = None) -> None:
    """Delete every chain and entry jump of ``prefix``."""
    apply(family, [], prefix, namespace=namespace)
