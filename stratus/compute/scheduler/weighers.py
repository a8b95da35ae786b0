"""Host weighers, by the names ``[filter_scheduler] weight_classes`` uses.

Each weigher rates every host that passed the filters; its ratings are scaled to 0..1
over those hosts and multiplied by its multiplier, and the host with the highest sum
wins. Positive resource multipliers spread servers out, negative ones stack them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from stratus.compute import options  # noqa: F401 - declares the options read here
from stratus.compute.scheduler.hosts import HostState
from stratus.compute.scheduler.request import RequestSpec
from stratus.runtime.config import Config

Rating = Callable[[HostState, RequestSpec], float]


def _group_members_on(host: HostState, spec: RequestSpec, policy: str) -> float:
    group = spec.group
    if group is None or group.policy != policy:
        return 0.0
    return float(group.hosts.count(host.host))


def _in_group(policy: str) -> Callable[[RequestSpec], bool]:
    return lambda spec: spec.group is not None and spec.group.policy == policy


def _always(spec: RequestSpec) -> bool:
    return True


RATINGS: dict[str, tuple[str, Rating, Callable[[RequestSpec], bool]]] = {
    # name: (multiplier option, rating, whether it can tell hosts apart for a request)
    "RAMWeigher": ("ram_weight_multiplier", lambda host, spec: host.free_ram_mb, _always),
    "CPUWeigher": ("cpu_weight_multiplier", lambda host, spec: host.free_vcpus, _always),
    "DiskWeigher": ("disk_weight_multiplier", lambda host, spec: host.free_disk_gb, _always),
    "ServerGroupSoftAffinityWeigher": (
        "soft_affinity_weight_multiplier",
        lambda host, spec: _group_members_on(host, spec, "soft-affinity"),
        _in_group("soft-affinity"),
    ),
    "ServerGroupSoftAntiAffinityWeigher": (
        "soft_anti_affinity_weight_multiplier",
        lambda host, spec: -_group_members_on(host, spec, "soft-anti-affinity"),
        _in_group("soft-anti-affinity"),
    ),
}


@dataclass(frozen=True)
class Weigher:
    name: str
    multiplier: float
    rate: Rating
    applies: Callable[[RequestSpec], bool]

    @property
    def attribute(self) -> str | None:
        """The host attribute that is the rating, for the resource weighers."""
        return _ATTRIBUTES.get(self.name)


def configured(conf: Config) -> list[Weigher]:
    names = conf.filter_scheduler.weight_classes
    if "all" in names:
        names = list(RATINGS)
    unknown = [name for name in names if name not in RATINGS]
    if unknown:
        raise ValueError(f"unknown scheduler weighers: {', '.join(unknown)}")
    weighers = []
    for name in names:
        option, rate, applies = RATINGS[name]
        weighers.append(Weigher(name, conf.get("filter_scheduler", option), rate, applies))
    return weighers


def weigh(
    hosts: Sequence[HostState], spec: RequestSpec, weighers: Sequence[Weigher]
) -> list[tuple[float, HostState]]:
    """The hosts with their total weights, best first."""
    totals = weights(hosts, spec, weighers)
    return [(totals[i], hosts[i]) for i in best(totals, len(totals))]


def weights(
    hosts: Sequence[HostState], spec: RequestSpec, weighers: Sequence[Weigher]
) -> list[float]:
    """Each host's total weight, in the order of ``hosts``."""
    scales: list[Scale] = []
    columns: list[list[float]] = []
    for weigher in weighers:
        if not weigher.multiplier or not weigher.applies(spec):
            continue
        ratings = ratings_of(hosts, weigher, spec)
        scaled = scale(weigher.multiplier, min(ratings, default=0.0), max(ratings, default=0.0))
        if scaled is not None:
            scales.append(scaled)
            columns.append(ratings)
    return combine(len(hosts), scales, columns)


def ratings_of(hosts: Sequence[HostState], weigher: Weigher, spec: RequestSpec) -> list[float]:
    attribute = weigher.attribute
    if attribute is not None:  # a plain attribute: read without a call per host
        return list(map(attrgetter(attribute), hosts))
    return [weigher.rate(host, spec) for host in hosts]


# A weigher's multiplier, and the lowest rating and the span of the ratings it scales.
Scale = tuple[float, float, float]


def scale(multiplier: float, low: float, high: float) -> Scale | None:
    """How ratings from ``low`` to ``high`` count: scaled to 0..1, times the multiplier;
    None when all are equal (the weigher cannot tell the hosts apart)."""
    return (multiplier, low, high - low) if high != low else None


def combine(count: int, scales: Sequence[Scale], columns: Sequence[list[float]]) -> list[float]:
    """Each host's total weight: each column of ratings scaled by its scale, added in the
    weighers' order (``total_at`` gives the same sum for one host)."""
    if not scales:
        return [0.0] * count
    if len(scales) == 3:  # the default (RAM, CPU, disk): one pass over the hosts
        (m1, l1, s1), (m2, l2, s2), (m3, l3, s3) = scales
        if m1 == m2 == m3 == 1.0:  # the default multipliers: the same sums, fewer steps
            return [
                (r1 - l1) / s1 + (r2 - l2) / s2 + (r3 - l3) / s3
                for r1, r2, r3 in zip(*columns, strict=True)
            ]
        return [
            0.0 + m1 * (r1 - l1) / s1 + m2 * (r2 - l2) / s2 + m3 * (r3 - l3) / s3
            for r1, r2, r3 in zip(*columns, strict=True)
        ]
    totals = [0.0] * count
    for (multiplier, low, span), ratings in zip(scales, columns, strict=True):
        totals = [
            total + multiplier * (rating - low) / span
            for total, rating in zip(totals, ratings, strict=True)
        ]
    return totals


def total_at(index: int, scales: Sequence[Scale], columns: Sequence[list[float]]) -> float:
    """One host's total weight, the sum ``combine`` makes for it."""
    total = 0.0
    for (multiplier, low, span), ratings in zip(scales, columns, strict=True):
        total += multiplier * (ratings[index] - low) / span
    return total


def best(totals: Sequence[float], count: int) -> list[int]:
    """The indexes of the ``count`` highest totals, best first; ties keep the hosts' order
    (as a stable sort of all of them would), without sorting all when few are wanted."""
    if count >= len(totals):
        return sorted(range(len(totals)), key=lambda i: -totals[i])
    if count == 1:  # the first of the highest, in two passes in C
        return [totals.index(max(totals))]
    return heapq.nlargest(count, range(len(totals)), key=totals.__getitem__)


# The resource weighers rate a host by one of its attributes.
_ATTRIBUTES = {
    "RAMWeigher": "free_ram_mb",
    "CPUWeigher": "free_vcpus",
    "DiskWeigher": "free_disk_gb",
}
