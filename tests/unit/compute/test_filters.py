"""Host filters, weighers and the operators of extra specs."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.compute.scheduler import filters, weighers
from stratus.compute.scheduler.hosts import HostState
from stratus.compute.scheduler.matching import matches
from stratus.compute.scheduler.request import GroupInfo, RequestSpec
from stratus.runtime.config import Config

FLAVOR = {"vcpus": 2, "memory_mb": 1024, "root_gb": 10, "ephemeral_gb": 0, "swap": 0}


def host(name: str = "h1", **values: Any) -> HostState:
    defaults: dict[str, Any] = {
        "node": name,
        "node_id": 1,
        "node_uuid": name,
        "vcpus": 4,
        "memory_mb": 4096,
        "local_gb": 100,
        "vcpus_used": 0,
        "memory_mb_used": 0,
        "local_gb_used": 0,
        "cpu_allocation_ratio": 1.0,
        "ram_allocation_ratio": 1.0,
    }
    return HostState(host=name, **{**defaults, **values})


def spec(**values: Any) -> RequestSpec:
    flavor = {**FLAVOR, **values.pop("flavor", {})}
    return RequestSpec(consumers=["x"], project_id="p", flavor=flavor, **values)


@pytest.mark.parametrize(
    ("value", "requirement", "expected"),
    [
        (4, "= 2", True),
        (1, "= 2", False),
        (2, "== 2", True),
        (3, "!= 2", True),
        (5, "<= 4", False),
        ("abc", "s== abc", True),
        ("b", "s> a", True),
        ("x86_64", "<in> 86", True),
        (["sse", "avx"], "<all-in> avx sse", True),
        (["sse"], "<all-in> avx sse", False),
        ("kvm", "<or> qemu <or> kvm", True),
        ("xen", "<or> qemu <or> kvm", False),
        ("exact", "exact", True),
        ("nope", "= 2", False),
    ],
)
def test_matching(value: Any, requirement: str, expected: bool) -> None:
    assert matches(value, requirement) is expected


def passes(make_check: filters.Filter, host_state: HostState, request: RequestSpec) -> bool:
    check = make_check(request)
    return check is None or check(host_state)


def test_resource_filters_use_ratios_and_reserved() -> None:
    full = host(memory_mb_used=3500)
    assert not passes(filters.ram_filter, full, spec())
    assert passes(filters.ram_filter, host(memory_mb_used=3500, ram_allocation_ratio=1.5), spec())
    assert not passes(filters.ram_filter, host(reserved_memory_mb=3500), spec())
    assert not passes(filters.core_filter, host(vcpus_used=3), spec())
    assert passes(filters.core_filter, host(vcpus_used=3, cpu_allocation_ratio=2.0), spec())
    swap = spec(flavor={"root_gb": 100, "swap": 1})  # 1 MB of swap takes a whole GB
    assert passes(filters.disk_filter, host(), spec(flavor={"root_gb": 100}))
    assert not passes(filters.disk_filter, host(), swap)


def test_compute_and_retry_and_zone_filters() -> None:
    assert passes(filters.compute_filter, host(), spec())
    assert not passes(filters.compute_filter, host(service_up=False), spec())
    assert not passes(filters.compute_filter, host(service_disabled=True), spec())
    assert not passes(filters.retry_filter, host("h1"), spec(ignore_hosts=["h1"]))
    assert passes(filters.availability_zone_filter, host(availability_zone="az1"), spec())
    assert not passes(filters.availability_zone_filter, host(), spec(availability_zone="az1"))


def test_capabilities_filter_reads_scoped_and_unscoped_specs() -> None:
    kvm = host(capabilities={"hypervisor_type": "QEMU", "cpu_info": {"arch": "x86_64"}})
    wanted = {"capabilities:hypervisor_type": "s== QEMU", "hw:cpu_policy": "dedicated"}
    assert passes(filters.compute_capabilities_filter, kvm, spec(flavor={"extra_specs": wanted}))
    nested = {"capabilities:cpu_info:arch": "x86_64"}
    assert passes(filters.compute_capabilities_filter, kvm, spec(flavor={"extra_specs": nested}))
    other = {"capabilities:cpu_info:arch": "aarch64"}
    assert not passes(filters.compute_capabilities_filter, kvm, spec(flavor={"extra_specs": other}))
    assert not passes(
        filters.compute_capabilities_filter, kvm, spec(flavor={"extra_specs": {"x": "1"}})
    )


def test_aggregate_extra_specs_filter() -> None:
    ssd = host(aggregate_metadata={"disk": {"ssd"}, "availability_zone": {"az1"}})
    wants_ssd = spec(flavor={"extra_specs": {"aggregate_instance_extra_specs:disk": "ssd"}})
    assert passes(filters.aggregate_instance_extra_specs_filter, ssd, wants_ssd)
    assert not passes(filters.aggregate_instance_extra_specs_filter, host(), wants_ssd)
    ignored = spec(flavor={"extra_specs": {"capabilities:x": "1", "hw:y": "2"}})
    assert passes(filters.aggregate_instance_extra_specs_filter, host(), ignored)


def test_image_properties_filter() -> None:
    supported = {"supported_instances": [["x86_64", "qemu", "hvm"]], "hypervisor_version": 8002000}
    qemu = host(capabilities=supported)
    assert passes(filters.image_properties_filter, qemu, spec())
    assert passes(
        filters.image_properties_filter, qemu, spec(image_properties={"hw_architecture": "x86_64"})
    )
    assert passes(
        filters.image_properties_filter, qemu, spec(image_properties={"architecture": "X86_64"})
    )
    arm = spec(image_properties={"hw_architecture": "aarch64"})
    assert not passes(filters.image_properties_filter, qemu, arm)
    assert not passes(filters.image_properties_filter, host(), arm)
    assert passes(
        filters.image_properties_filter,
        qemu,
        spec(image_properties={"img_hv_type": "qemu", "hw_vm_mode": "hvm"}),
    )
    newer = spec(image_properties={"img_hv_requested_version": ">=9000000"})
    assert not passes(filters.image_properties_filter, qemu, newer)


def test_server_group_filters() -> None:
    affinity = spec(group=GroupInfo("g", "affinity", hosts=["h1"]))
    assert passes(filters.server_group_affinity_filter, host("h1"), affinity)
    assert not passes(filters.server_group_affinity_filter, host("h2"), affinity)
    assert passes(
        filters.server_group_affinity_filter, host("h2"), spec(group=GroupInfo("g", "affinity"))
    )
    anti = spec(group=GroupInfo("g", "anti-affinity", hosts=["h1"]))
    assert not passes(filters.server_group_anti_affinity_filter, host("h1"), anti)
    assert passes(filters.server_group_anti_affinity_filter, host("h2"), anti)
    two = spec(group=GroupInfo("g", "anti-affinity", ["h1"], {"max_server_per_host": 2}))
    assert passes(filters.server_group_anti_affinity_filter, host("h1"), two)


def test_unknown_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="NoSuchFilter"):
        filters.enabled(["RamFilter", "NoSuchFilter"])


def _weigh(conf: Config, hosts: list[HostState], request: RequestSpec) -> list[str]:
    return [h.host for _, h in weighers.weigh(hosts, request, weighers.configured(conf))]


def test_weighers_spread_or_stack(conf: Config) -> None:
    hosts = [host("busy", memory_mb_used=3000, vcpus_used=3), host("idle")]
    assert _weigh(conf, hosts, spec()) == ["idle", "busy"]
    stacking = Config(
        None,
        {
            "filter_scheduler": {
                "ram_weight_multiplier": -1.0,
                "cpu_weight_multiplier": -1.0,
                "disk_weight_multiplier": 0.0,
            }
        },
    )
    assert _weigh(stacking, hosts, spec()) == ["busy", "idle"]


def test_soft_group_weighers(conf: Config) -> None:
    hosts = [host("h1"), host("h2")]
    soft_anti = spec(group=GroupInfo("g", "soft-anti-affinity", hosts=["h1"]))
    assert _weigh(conf, hosts, soft_anti)[0] == "h2"
    soft = spec(group=GroupInfo("g", "soft-affinity", hosts=["h2"]))
    assert _weigh(conf, hosts, soft)[0] == "h2"


def test_one_pass_filters_agree_with_one_by_one() -> None:
    hosts = [
        host("full-ram", memory_mb_used=3500),
        host("full-disk", local_gb_used=95),
        host("full-cpu", vcpus_used=3),
        host("down", service_up=False),
        host("disabled", service_disabled=True),
        host("fits"),
    ]
    request = spec()
    checks = [
        make(request)
        for make in (
            filters.compute_filter,
            filters.ram_filter,
            filters.disk_filter,
            filters.core_filter,
        )
    ]
    assert all(filters.fusable(check) for check in checks)
    one_by_one = [h for h in hosts if all(check(h) for check in checks)]
    assert [h.host for h in filters.passing(hosts, checks)] == ["fits"]
    assert filters.passing(hosts, checks) == one_by_one
    assert [h.host for h in filters.passing(hosts, checks[1:])] == ["down", "disabled", "fits"]


def test_best_few_are_the_head_of_the_full_ranking(conf: Config) -> None:
    # Ties (equal hosts) keep the hosts' order, as the full sort does.
    hosts = [host(f"h{i}", memory_mb_used=(i * 37) % 5 * 500, vcpus_used=i % 3) for i in range(40)]
    ranked = weighers.weigh(hosts, spec(), weighers.configured(conf))
    totals = weighers.weights(hosts, spec(), weighers.configured(conf))
    assert [hosts[i] for i in weighers.best(totals, 7)] == [h for _, h in ranked[:7]]
    assert [w for w, _ in ranked] == sorted(totals, reverse=True)


def _reference_ranking(hosts: list[HostState], request: RequestSpec, conf: Config) -> list[str]:
    """Every weigher over every host, scaled and summed one after the other, all sorted."""
    totals = [0.0] * len(hosts)
    for weigher in weighers.configured(conf):
        if not weigher.multiplier or not weigher.applies(request):
            continue
        ratings = [weigher.rate(h, request) for h in hosts]
        low, high = min(ratings), max(ratings)
        if high == low:
            continue
        for i, rating in enumerate(ratings):
            totals[i] += weigher.multiplier * (rating - low) / (high - low)
    order = sorted(zip(totals, range(len(hosts)), strict=True), key=lambda x: -x[0])
    return [hosts[i].host for _, i in order]


@pytest.mark.parametrize(
    "multipliers",
    [{}, {"ram_weight_multiplier": 2.0, "cpu_weight_multiplier": -0.5}],
)
def test_weights_match_the_reference(multipliers: dict[str, float]) -> None:
    conf = Config(None, {"filter_scheduler": multipliers})
    hosts = [
        host(f"h{i}", memory_mb_used=(i * 7) % 11 * 300, vcpus_used=i % 4, local_gb_used=i % 9)
        for i in range(60)
    ]
    group = spec(group=GroupInfo("g", "soft-affinity", hosts=["h3", "h3", "h8"]))
    for request in (spec(), group):
        assert _weigh(conf, hosts, request) == _reference_ranking(hosts, request, conf)
