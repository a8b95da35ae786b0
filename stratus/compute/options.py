"""The compute service's options, under the sections and names Nova uses."""

from __future__ import annotations

from stratus.runtime.config import Opt, register
from stratus.runtime.identity_client import register_service_credentials

register(
    "compute",
    Opt("port", 8774, "Port of the compute API (Nova v2.1).", int),
    Opt(
        "compute_driver",
        "libvirt",
        "Virt driver of the compute agent: libvirt (QEMU, KVM where it works) or fake "
        "(simulated hosts, for tests and scale benchmarks).",
        choices=("libvirt", "fake"),
    ),
    Opt("cpu_allocation_ratio", 16.0, "Virtual CPUs per physical CPU a host may hand out.", float),
    Opt("ram_allocation_ratio", 1.5, "Virtual RAM per MB of physical RAM.", float),
    Opt("disk_allocation_ratio", 1.0, "Virtual disk per GB of local disk.", float),
    Opt("reserved_host_memory_mb", 512, "RAM kept for the host itself, never handed out.", int),
    Opt("reserved_host_disk_mb", 0, "Local disk kept for the host itself.", int),
    Opt("reserved_host_cpus", 0, "CPUs kept for the host itself.", int),
    Opt(
        "default_availability_zone",
        "nova",
        "Availability zone of hosts that are in no aggregate naming one.",
    ),
    Opt(
        "default_schedule_zone",
        "",
        "Availability zone given to servers created without one (empty: any zone).",
    ),
    Opt(
        "allow_resize_to_same_host",
        True,
        "Whether a resize may stay on the server's host (needed by one-host clouds).",
        bool,
    ),
    Opt("instances_path", "{data_dir}/instances", "Where the agent keeps disks and consoles."),
    Opt(
        "shutdown_timeout",
        60,
        "Seconds a guest has to power off when asked (ACPI) before it is turned off.",
        int,
    ),
    Opt("max_limit", 1000, "Most items one list response holds.", int),
    Opt("report_interval", 10, "Seconds between a compute service's heartbeats.", int),
    Opt(
        "service_down_time",
        60,
        "Seconds without a heartbeat after which a compute service is down.",
        int,
    ),
    Opt(
        "sync_power_state_interval",
        60,
        "Seconds between the agent's comparisons of its domains with the database.",
        int,
    ),
)
register_service_credentials("compute", "nova")

register(
    "filter_scheduler",
    Opt(
        "enabled_filters",
        [
            "RetryFilter",
            "ComputeFilter",
            "AvailabilityZoneFilter",
            "RamFilter",
            "DiskFilter",
            "CoreFilter",
            "ComputeCapabilitiesFilter",
            "ImagePropertiesFilter",
            "AggregateInstanceExtraSpecsFilter",
            "ServerGroupAntiAffinityFilter",
            "ServerGroupAffinityFilter",
        ],
        "Filters a host must pass to be chosen, in order. Whatever is enabled, a claim "
        "never lets a host's RAM, disk or vCPUs go over their allocation ratios.",
        list,
    ),
    Opt(
        "weight_classes",
        ["all"],
        "Weighers that rank the hosts that passed: RAMWeigher, CPUWeigher, DiskWeigher, "
        "ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher, or all.",
        list,
    ),
    Opt("ram_weight_multiplier", 1.0, "Positive spreads by free RAM, negative stacks.", float),
    Opt("cpu_weight_multiplier", 1.0, "Positive spreads by free vCPUs, negative stacks.", float),
    Opt("disk_weight_multiplier", 1.0, "Positive spreads by free disk, negative stacks.", float),
    Opt(
        "soft_affinity_weight_multiplier",
        1.0,
        "Weight of placing a soft-affinity group's servers together.",
        float,
    ),
    Opt(
        "soft_anti_affinity_weight_multiplier",
        1.0,
        "Weight of keeping a soft-anti-affinity group's servers apart.",
        float,
    ),
    Opt(
        "host_subset_size",
        1,
        "Pick at random among this many best hosts (more spreads concurrent requests).",
        int,
    ),
)

register(
    "scheduler",
    Opt("max_attempts", 3, "Hosts a server's build is tried on before it goes to ERROR.", int),
)

register(
    "quota",
    Opt("instances", 10, "Servers per project.", int),
    Opt("cores", 20, "Virtual CPUs per project.", int),
    Opt("ram", 50 * 1024, "MB of RAM per project.", int),
    Opt("metadata_items", 128, "Metadata items per server.", int),
    Opt("key_pairs", 100, "Key pairs per user.", int),
    Opt("server_groups", 10, "Server groups per project.", int),
    Opt("server_group_members", 10, "Servers per server group.", int),
    Opt("injected_files", 5, "Files injected per server.", int),
    Opt("injected_file_content_bytes", 10 * 1024, "Bytes per injected file.", int),
    Opt("injected_file_path_length", 255, "Characters per injected file path.", int),
)

register(
    "libvirt",
    Opt("connection_uri", "qemu:///system", "The libvirt connection of the compute agent."),
    Opt(
        "virt_type",
        "auto",
        "kvm, qemu (TCG, no hardware acceleration), or auto: kvm where /dev/kvm works and "
        "the CPU offers virtualization extensions, qemu elsewhere.",
        choices=("auto", "kvm", "qemu"),
    ),
)

register(
    "serial_console",
    Opt(
        "port_range",
        "10000:20000",
        "Host ports (first:last) the servers' serial consoles listen on, one per server.",
    ),
    Opt(
        "proxyclient_address",
        "127.0.0.1",
        "Address the servers' serial consoles listen on, which the serial proxy connects to: "
        "loopback when a proxy runs on every compute host, this host's address when one "
        "proxy serves many hosts.",
    ),
    Opt(
        "serialproxy_host",
        "{my_ip}",
        "Address the serial console proxy (compute-serialproxy) listens on.",
    ),
    Opt("serialproxy_port", 6083, "Port of the serial console proxy.", int),
    Opt(
        "base_url",
        "ws://{my_ip}:{serial_console.serialproxy_port}/",
        "URL clients reach the serial proxy for this compute host's servers at (a console "
        "URL is this with ?token=...); a proxy accepts only tokens handed out with its own.",
    ),
)

register(
    "consoleauth",
    Opt("token_ttl", 600, "Seconds a console URL may be used in (once).", int),
)

register(
    "fake_driver",
    Opt("host_count", 1, "Hosts one fake compute agent simulates (named <host>-<n> if >1).", int),
    Opt("vcpus", 16, "CPUs of each simulated host.", int),
    Opt("memory_mb", 32768, "MB of RAM of each simulated host.", int),
    Opt("local_gb", 1024, "GB of local disk of each simulated host.", int),
    Opt("boot_delay", 0.0, "Seconds a simulated server takes to build.", float),
)
