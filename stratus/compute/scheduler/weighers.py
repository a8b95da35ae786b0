"""Host weighers, by the names ``[filter_scheduler] weight_classes`` uses.

Each weigher rates every host that passed the filters; its ratings are scaled to 0..1
over those hosts and multiplied by its multiplier, and the host with the highest sum
wins. Positive resource multipliers spread servers out, negative ones stack them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        if not weigher.multiplier or not weigher.applies(spec):
            continue
        ratings = [weigher.rate(host, spec) for host in hosts]
        low, high = min(ratings, default=0.0), max(ratings, default=0.0)
        if high == low:
            continue
        for i, rating in enumerate(ratings):
            totals[i] += weigher.multiplier * (rating - low) / (high - low)
    ranked = sorted(zip(totals, range(len(hosts)), strict=True), key=lambda x: -x[0])
    return [(weight, hosts[i]) for weight, i in ranked]
