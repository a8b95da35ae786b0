"""The record of the host objects the network agents made, so that they remove their own
orphans and never anything else.

One empty file per object: ``<state_path>/owned/<keeper>/<name>``, where the keeper is
the agent that removes it once it is no longer wanted (``l2``: bridges and their
uplinks; ``dhcp`` and ``l3``: namespaces and their veths). A name is claimed before the
object is made and released after it is gone, so an agent killed at any moment leaves
nothing unrecorded; a record whose object is already gone is simply released.
"""

from __future__ import annotations

from pathlib import Path

L2, DHCP, L3 = "l2", "dhcp", "l3"


class Owned:
    def __init__(self, state_path: str | Path, keeper: str) -> None:
        self.dir = Path(state_path) / "owned" / keeper

    def claim(self, name: str) -> None:
        path = self.dir / name
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            path.touch()

    def release(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def names(self) -> set[str]:
        if not self.dir.is_dir():
            return set()
        return {p.name for p in self.dir.iterdir()}
