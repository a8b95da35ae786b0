"""Hosts ranked once for the common request, and kept ranked as claims land.

Most requests ask only for room (free RAM, disk and vCPUs on an up host) and are weighed
only by free resources. Requests of one flavor then see the same candidates, rated the
same way; a pool keeps them with their ratings and total weights, and a claim changes
the one host it lands on, so a decision reads the ranking instead of filtering and
weighing every host again. Pools live as long as the host states they were made from.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from stratus.compute.scheduler import weighers
from stratus.compute.scheduler.filters import Floors
from stratus.compute.scheduler.hosts import HostCache, HostState
from stratus.compute.scheduler.request import Resources
from stratus.compute.scheduler.weighers import Weigher

# Distinct request shapes kept at once (flavors in use, roughly); past it all start over.
POOLS_MAX = 64


class Pool:
    """The hosts that pass ``floors``, in the host states' order, rated by resource
    weighers (each with a ``Weigher.attribute``)."""

    def __init__(self, hosts: list[HostState], floors: Floors, rated_by: Sequence[Weigher]):
        self.floors = floors
        self.hosts = floors.select(hosts)
        self._multipliers = [weigher.multiplier for weigher in rated_by]
        self._attributes = [weigher.attribute or "" for weigher in rated_by]
        self._columns = [[getattr(h, a) for h in self.hosts] for a in self._attributes]
        self._bounds = [(min(c, default=0.0), max(c, default=0.0)) for c in self._columns]
        self._places = {id(host): i for i, host in enumerate(self.hosts)}
        self._totals: list[float] | None = None
        self._scales: list[weighers.Scale] = []
        self._scaled: list[list[float]] = []  # the columns of _scales

    def ranking(self) -> tuple[list[HostState], list[float]]:
        """The hosts and their total weights (copies: the pool changes with claims)."""
        if self._totals is None:
            self._scales, self._scaled = [], []
            for multiplier, (low, high), column in zip(
                self._multipliers, self._bounds, self._columns, strict=True
            ):
                scaled = weighers.scale(multiplier, low, high)
                if scaled is not None:
                    self._scales.append(scaled)
                    self._scaled.append(column)
            self._totals = weighers.combine(len(self.hosts), self._scales, self._scaled)
        return list(self.hosts), list(self._totals)

    def update(self, host: HostState) -> None:
        """Take in a claim on ``host`` (free resources only shrink between loads)."""
        place = self._places.get(id(host))
        if place is None or self.hosts[place] is not host:
            return  # not in this pool
        if not self.floors.admit(host):
            self._drop(place)
            return
        rescale = False
        for k, (attribute, column) in enumerate(zip(self._attributes, self._columns, strict=True)):
            old, new = column[place], getattr(host, attribute)
            if old == new:
                continue
            column[place] = new
            bounds = _bounds_after(self._bounds[k], column, old, new)
            if bounds != self._bounds[k]:
                self._bounds[k] = bounds
                rescale = True
        if rescale:
            self._totals = None
        elif self._totals is not None:
            self._totals[place] = weighers.total_at(place, self._scales, self._scaled)

    def _drop(self, place: int) -> None:
        del self.hosts[place]
        for column in self._columns:
            del column[place]
        self._bounds = [(min(c, default=0.0), max(c, default=0.0)) for c in self._columns]
        self._places = {id(host): i for i, host in enumerate(self.hosts)}
        self._totals = None


def _bounds_after(
    bounds: tuple[float, float], column: list[float], old: float, new: float
) -> tuple[float, float]:
    """A column's lowest and highest ratings once one of them went from ``old`` to
    ``new``: searched again only when ``old`` was a bound no other rating still holds."""
    low, high = bounds
    if new < low:
        low = new
    elif old == low and low not in column:
        low = min(column)
    if new > high:
        high = new
    elif old == high and high not in column:
        high = max(column)
    return low, high


class Pools:
    """The pools of the host cache's current states, one per request shape."""

    def __init__(self, cache: HostCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._states: list[HostState] | None = None
        self._pools: dict[tuple[Floors, tuple[Weigher, ...]], Pool] = {}

    def ranking(
        self, floors: Floors, rated_by: Sequence[Weigher]
    ) -> tuple[list[HostState], list[float]]:
        """The hosts that pass ``floors`` and their total weights by ``rated_by``."""
        with self._lock:
            states = self._cache.get()
            if states is not self._states or len(self._pools) >= POOLS_MAX:
                self._states, self._pools = states, {}
            key = (floors, tuple(rated_by))
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = Pool(states, floors, rated_by)
            return pool.ranking()

    def consume(self, host: HostState, resources: Resources) -> None:
        """Count a claim made on ``host`` in it and in every pool it is in."""
        with self._lock:
            host.consume(resources)
            for pool in self._pools.values():
                pool.update(host)
