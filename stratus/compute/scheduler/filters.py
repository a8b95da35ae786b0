"""Host filters, by the names ``[filter_scheduler] enabled_filters`` uses.

A filter looks at a request once and gives the check each host must pass, or None when
the request asks nothing of it (no zone, no group, no extra specs...), so that the
scheduler spends no time on filters that cannot reject anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from stratus.compute.scheduler.hosts import HostState
from stratus.compute.scheduler.matching import lookup, matches
from stratus.compute.scheduler.request import RequestSpec

HostCheck = Callable[[HostState], bool]
Filter = Callable[[RequestSpec], HostCheck | None]

CAPABILITIES_SCOPE = "capabilities"
AGGREGATE_SCOPE = "aggregate_instance_extra_specs"


def retry_filter(spec: RequestSpec) -> HostCheck | None:
    """Not a host this server's build already failed on."""
    tried = set(spec.ignore_hosts)
    return (lambda host: host.host not in tried) if tried else None


class ServiceUp:
    """The check that the host's compute service is enabled and up."""

    __slots__ = ()

    def __call__(self, host: HostState) -> bool:
        return host.service_up and not host.service_disabled


def compute_filter(spec: RequestSpec) -> HostCheck | None:
    """The host's compute service is enabled and up."""
    return ServiceUp()


def availability_zone_filter(spec: RequestSpec) -> HostCheck | None:
    zone = spec.availability_zone
    return (lambda host: host.availability_zone == zone) if zone else None


class Minimum:
    """The check that one of the host's free resources (``free_ram_mb``, ``free_disk_gb``
    or ``free_vcpus``) is at least ``wanted``. The scheduler runs a request's minimums
    and ServiceUp as one set of Floors."""

    __slots__ = ("attribute", "wanted")

    def __init__(self, attribute: str, wanted: float) -> None:
        self.attribute = attribute
        self.wanted = wanted

    def __call__(self, host: HostState) -> bool:
        return getattr(host, self.attribute) >= self.wanted


def ram_filter(spec: RequestSpec) -> HostCheck | None:
    return Minimum("free_ram_mb", spec.resources.memory_mb)


def disk_filter(spec: RequestSpec) -> HostCheck | None:
    return Minimum("free_disk_gb", spec.resources.disk_gb)


def core_filter(spec: RequestSpec) -> HostCheck | None:
    return Minimum("free_vcpus", spec.resources.vcpus)


Fused = Minimum | ServiceUp


def fusable(check: HostCheck) -> TypeGuard[Fused]:
    """Whether ``passing`` can run the check with others in one pass."""
    return isinstance(check, Minimum | ServiceUp)


def passing(hosts: list[HostState], checks: list[Fused]) -> list[HostState]:
    """The hosts that pass all the checks, in one pass."""
    return Floors.of(checks).select(hosts)


@dataclass(frozen=True, slots=True)
class Floors:
    """What a set of fusable checks asks of a host: at least so much free RAM, disk and
    vCPUs, and (``up``) an enabled compute service that is up."""

    ram: float = -math.inf
    disk: float = -math.inf
    vcpus: float = -math.inf
    up: bool = False

    @classmethod
    def of(cls, checks: list[Fused]) -> Floors:
        up = False
        floor = dict.fromkeys(_FLOOR_ATTRIBUTES, -math.inf)
        for check in checks:
            if isinstance(check, ServiceUp):
                up = True
            else:
                floor[check.attribute] = max(floor[check.attribute], check.wanted)
        return cls(floor["free_ram_mb"], floor["free_disk_gb"], floor["free_vcpus"], up)

    def admit(self, host: HostState) -> bool:
        return (
            (not self.up or (host.service_up and not host.service_disabled))
            and host.free_ram_mb >= self.ram
            and host.free_disk_gb >= self.disk
            and host.free_vcpus >= self.vcpus
        )

    def select(self, hosts: list[HostState]) -> list[HostState]:
        """The hosts admitted, in their order."""
        return [host for host in hosts if self.admit(host)]


_FLOOR_ATTRIBUTES = ("free_ram_mb", "free_disk_gb", "free_vcpus")


def _scoped(extra_specs: dict[str, str], scope: str) -> list[tuple[str, str]]:
    """The specs a filter checks: those in its scope (scope dropped) and unscoped ones."""
    chosen = []
    for key, requirement in extra_specs.items():
        prefix, sep, rest = key.partition(":")
        if not sep:
            chosen.append((key, requirement))
        elif prefix == scope:
            chosen.append((rest, requirement))
    return chosen


def _capability_view(host: HostState) -> dict[str, Any]:
    return {
        **host.capabilities,
        "free_ram_mb": host.free_ram_mb,
        "free_disk_mb": host.free_disk_gb * 1024,
        "vcpus_total": host.vcpus,
        "vcpus_used": host.vcpus_used,
        "hypervisor_hostname": host.node,
    }


def compute_capabilities_filter(spec: RequestSpec) -> HostCheck | None:
    """The flavor's ``capabilities:`` (and unscoped) extra specs hold on the host."""
    wanted = _scoped(spec.extra_specs, CAPABILITIES_SCOPE)
    if not wanted:
        return None

    def check(host: HostState) -> bool:
        view = _capability_view(host)
        for key, requirement in wanted:
            value = lookup(view, key)
            if value is None or not matches(value, requirement):
                return False
        return True

    return check


def aggregate_instance_extra_specs_filter(spec: RequestSpec) -> HostCheck | None:
    """The flavor's ``aggregate_instance_extra_specs:`` (and unscoped) extra specs match
    the metadata of one of the host's aggregates."""
    wanted = _scoped(spec.extra_specs, AGGREGATE_SCOPE)
    if not wanted:
        return None

    def check(host: HostState) -> bool:
        for key, requirement in wanted:
            values = host.aggregate_metadata.get(key)
            if not values or not any(matches(value, requirement) for value in values):
                return False
        return True

    return check


# Image property -> its legacy name; what the image asks the host to offer, in the order
# of a ``supported_instances`` entry: architecture, hypervisor type, VM mode.
_IMAGE_PROPERTIES = {
    "hw_architecture": "architecture",
    "img_hv_type": "hypervisor_type",
    "hw_vm_mode": "vm_mode",
}


def image_properties_filter(spec: RequestSpec) -> HostCheck | None:
    """The host supports the architecture, hypervisor type, VM mode and hypervisor
    version the image asks for."""
    props = spec.image_properties
    wanted = [
        (i, str(props.get(name) or props.get(legacy)).lower())
        for i, (name, legacy) in enumerate(_IMAGE_PROPERTIES.items())
        if props.get(name) or props.get(legacy)
    ]
    version = props.get("img_hv_requested_version")
    if not wanted and not version:
        return None
    requirement = _numeric(str(version)) if version else None

    def check(host: HostState) -> bool:
        caps = host.capabilities
        if requirement and not matches(caps.get("hypervisor_version", 0), requirement):
            return False
        if not wanted:
            return True
        return any(
            all(i < len(entry) and str(entry[i]).lower() == value for i, value in wanted)
            for entry in caps.get("supported_instances") or []
        )

    return check


def _numeric(requirement: str) -> str:
    """A version requirement such as ``>=6000000``, in the spacing matches() reads."""
    for op in (">=", "<=", "==", "!=", "="):
        if requirement.startswith(op):
            return f"{op} {requirement[len(op) :].strip()}"
    return f"== {requirement}"


def server_group_affinity_filter(spec: RequestSpec) -> HostCheck | None:
    group = spec.group
    if group is None or group.policy != "affinity":
        return None
    return lambda host: not group.hosts or host.host in group.hosts


def server_group_anti_affinity_filter(spec: RequestSpec) -> HostCheck | None:
    group = spec.group
    if group is None or group.policy != "anti-affinity":
        return None
    return lambda host: group.hosts.count(host.host) < group.max_server_per_host


FILTERS: dict[str, Filter] = {
    "RetryFilter": retry_filter,
    "ComputeFilter": compute_filter,
    "AvailabilityZoneFilter": availability_zone_filter,
    "RamFilter": ram_filter,
    "DiskFilter": disk_filter,
    "CoreFilter": core_filter,
    "ComputeCapabilitiesFilter": compute_capabilities_filter,
    "AggregateInstanceExtraSpecsFilter": aggregate_instance_extra_specs_filter,
    "ImagePropertiesFilter": image_properties_filter,
    "ServerGroupAffinityFilter": server_group_affinity_filter,
    "ServerGroupAntiAffinityFilter": server_group_anti_affinity_filter,
}


def enabled(names: list[str]) -> list[tuple[str, Filter]]:
    unknown = [name for name in names if name not in FILTERS]
    if unknown:
        raise ValueError(f"unknown scheduler filters: {', '.join(unknown)}")
    return [(name, FILTERS[name]) for name in names]
