"""Host filters, by the names ``[filter_scheduler] enabled_filters`` uses.

A filter says whether one host can take one server of the request; the scheduler runs
the enabled ones in order and keeps the hosts that pass them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stratus.compute.scheduler.hosts import HostState
from stratus.compute.scheduler.matching import lookup, matches
from stratus.compute.scheduler.request import RequestSpec

Filter = Callable[[HostState, RequestSpec], bool]

CAPABILITIES_SCOPE = "capabilities"
AGGREGATE_SCOPE = "aggregate_instance_extra_specs"


def retry_filter(host: HostState, spec: RequestSpec) -> bool:
    """Not a host this server's build already failed on."""
    return host.host not in spec.ignore_hosts


def compute_filter(host: HostState, spec: RequestSpec) -> bool:
    """The host's compute service is enabled and up."""
    return host.service_up and not host.service_disabled


def availability_zone_filter(host: HostState, spec: RequestSpec) -> bool:
    return spec.availability_zone is None or host.availability_zone == spec.availability_zone


def ram_filter(host: HostState, spec: RequestSpec) -> bool:
    return host.free_ram_mb >= spec.resources.memory_mb


def disk_filter(host: HostState, spec: RequestSpec) -> bool:
    return host.free_disk_gb >= spec.resources.disk_gb


def core_filter(host: HostState, spec: RequestSpec) -> bool:
    return host.free_vcpus >= spec.resources.vcpus


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


def compute_capabilities_filter(host: HostState, spec: RequestSpec) -> bool:
    """The flavor's ``capabilities:`` (and unscoped) extra specs hold on the host."""
    view = _capability_view(host)
    for key, requirement in _scoped(spec.extra_specs, CAPABILITIES_SCOPE):
        value = lookup(view, key)
        if value is None or not matches(value, requirement):
            return False
    return True


def aggregate_instance_extra_specs_filter(host: HostState, spec: RequestSpec) -> bool:
    """The flavor's ``aggregate_instance_extra_specs:`` (and unscoped) extra specs match
    the metadata of one of the host's aggregates."""
    for key, requirement in _scoped(spec.extra_specs, AGGREGATE_SCOPE):
        values = host.aggregate_metadata.get(key)
        if not values or not any(matches(value, requirement) for value in values):
            return False
    return True


# Image property -> its legacy name; what the image asks the host to offer.
_IMAGE_PROPERTIES = {
    "hw_architecture": "architecture",
    "img_hv_type": "hypervisor_type",
    "hw_vm_mode": "vm_mode",
}


def image_properties_filter(host: HostState, spec: RequestSpec) -> bool:
    """The host supports the architecture, hypervisor type, VM mode and hypervisor
    version the image asks for."""
    props = spec.image_properties
    wanted = [
        (i, str(props.get(name) or props.get(legacy)).lower())
        for i, (name, legacy) in enumerate(_IMAGE_PROPERTIES.items())
        if props.get(name) or props.get(legacy)
    ]
    requested_version = props.get("img_hv_requested_version")
    if not wanted and not requested_version:
        return True
    if requested_version and not matches(
        host.capabilities.get("hypervisor_version", 0), _numeric(requested_version)
    ):
        return False
    supported = host.capabilities.get("supported_instances") or []
    if not wanted:
        return True
    return any(
        all(index < len(entry) and str(entry[index]).lower() == value for index, value in wanted)
        for entry in supported
    )


def _numeric(requirement: str) -> str:
    """A version requirement such as ``>=6000000``, in the spacing matches() reads."""
    for op in (">=", "<=", "==", "!=", "="):
        if requirement.startswith(op):
            return f"{op} {requirement[len(op) :].strip()}"
    return f"== {requirement}"


def server_group_affinity_filter(host: HostState, spec: RequestSpec) -> bool:
    group = spec.group
    if group is None or group.policy != "affinity" or not group.hosts:
        return True
    return host.host in group.hosts


def server_group_anti_affinity_filter(host: HostState, spec: RequestSpec) -> bool:
    group = spec.group
    if group is None or group.policy != "anti-affinity":
        return True
    return group.hosts.count(host.host) < group.max_server_per_host


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
