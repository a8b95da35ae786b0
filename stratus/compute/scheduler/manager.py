"""The scheduler part: picks and claims a host for each server of a request, on the
``compute-scheduler`` topic (the conductor calls ``select_destinations``)."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

from stratus.compute import options  # noqa: F401 - declares the options read here
from stratus.compute.scheduler import claims, filters, weighers
from stratus.compute.scheduler.hosts import HostCache, HostState
from stratus.compute.scheduler.pools import Pools
from stratus.compute.scheduler.request import RequestSpec
from stratus.runtime.config import Config
from stratus.runtime.db import Database

LOG = logging.getLogger(__name__)

TOPIC = "compute-scheduler"
NO_VALID_HOST = "No valid host was found. "


class NoValidHost(Exception):
    """No host passes the filters with room to claim (the message says why)."""


class Scheduler:
    def __init__(self, conf: Config, db: Database, *, cache_ttl: float = 1.0) -> None:
        self.db = db
        self.filters = filters.enabled(conf.filter_scheduler.enabled_filters)
        self.weighers = weighers.configured(conf)
        self.subset_size = max(1, conf.filter_scheduler.host_subset_size)
        self.hosts = HostCache(
            db, conf.compute.default_availability_zone, conf.compute.service_down_time, cache_ttl
        )
        self.pools = Pools(self.hosts)

    def select_destinations(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """A claimed host for each of ``spec["consumers"]``, all or none: raises
        NoValidHost (and frees the claims it made) when one cannot be placed."""
        request = RequestSpec.from_dict(spec)
        chosen: list[dict[str, Any]] = []
        try:
            for consumer in request.consumers:
                chosen.append(self._place(request, consumer))
        except NoValidHost:
            for selection in chosen:
                claims.release(self.db, selection["consumer"])
            raise
        return chosen

    def _place(self, request: RequestSpec, consumer: str) -> dict[str, Any]:
        subset = self.subset_size
        for attempt in range(2):  # the second time on freshly loaded hosts
            if attempt:
                self.hosts.invalidate()
            candidates, totals = self._ranking(request)
            # The best few are enough until claims fail on them; then all, in order.
            ranked = [candidates[i] for i in weighers.best(totals, subset)]
            complete = len(ranked) == len(candidates)
            failed: set[int] = set()
            while ranked:
                host = random.choice(ranked[:subset])
                if claims.claim(self.db, host.node_id, consumer, request.resources):
                    self.pools.consume(host, request.resources)
                    if request.group is not None:
                        request.group.hosts.append(host.host)
                    return {
                        "consumer": consumer,
                        "host": host.host,
                        "node": host.node,
                        "node_uuid": host.node_uuid,
                    }
                ranked.remove(host)
                failed.add(host.node_id)
                if not complete and len(ranked) < subset:
                    ranked = [
                        candidates[i]
                        for i in weighers.best(totals, len(candidates))
                        if candidates[i].node_id not in failed
                    ]
                    complete = True
            if not candidates:
                break  # nothing passed the filters: reloading would not help
        raise NoValidHost(NO_VALID_HOST + "There are not enough hosts available.")

    def _ranking(self, request: RequestSpec) -> tuple[list[HostState], list[float]]:
        """The hosts that pass the filters, and each one's total weight."""
        if request.force_host:
            # A host named by an administrator is taken as is, as long as it has room.
            forced = [
                h
                for h in self.hosts.get()
                if h.host == request.force_host
                and (request.force_node is None or h.node == request.force_node)
            ]
            return forced, weighers.weights(forced, request, self.weighers)
        checks = [(name, make_check(request)) for name, make_check in self.filters]
        checks = [(name, check) for name, check in checks if check is not None]
        rated_by = [w for w in self.weighers if w.multiplier and w.applies(request)]
        if all(filters.fusable(c) for _, c in checks) and all(w.attribute for w in rated_by):
            # Only room asked for, weighed by free resources only: a kept ranking serves.
            floors = filters.Floors.of([c for _, c in checks])  # all fusable here
            hosts, totals = self.pools.ranking(floors, rated_by)
            if hosts:
                return hosts, totals
            # None: filtered one by one below, which logs the filter that left none.
        candidates = self._candidates(request, checks)
        return candidates, weighers.weights(candidates, request, self.weighers)

    def _candidates(
        self, request: RequestSpec, checks: list[tuple[str, filters.HostCheck]]
    ) -> list[HostState]:
        hosts = self.hosts.get()
        fused = [(name, check) for name, check in checks if filters.fusable(check)]
        for name, check in checks:
            before = len(hosts)
            if not filters.fusable(check):
                hosts = [host for host in hosts if check(host)]
            elif check is fused[0][1]:  # all the fusable checks at the first one's place
                passed = filters.passing(hosts, [c for _, c in fused])
                if not passed:  # name the one that leaves none, as one by one would
                    name = _first_to_empty(hosts, fused)
                elif len(fused) > 1:
                    name = ", ".join(n for n, _ in fused)
                hosts = passed
            else:
                continue  # run with the first
            if len(hosts) < before:
                LOG.debug("%s left %d of %d hosts", name, len(hosts), before)
            if not hosts:
                LOG.info("no host passed %s for %s", name, request.consumers)
                break
        return hosts


def _first_to_empty(hosts: list[HostState], checks: Sequence[tuple[str, filters.HostCheck]]) -> str:
    """The filter that leaves no host when the checks run one after the other."""
    for name, check in checks:
        hosts = [host for host in hosts if check(host)]
        if not hosts:
            return name
    return checks[-1][0]
