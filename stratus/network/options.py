"""The network service's options, under the section and option names Neutron uses."""

from __future__ import annotations

from stratus.runtime.config import Opt, register
from stratus.runtime.identity_client import register_service_credentials

register(
    "network",
    Opt("port", 9696, "Port of the network API (Neutron v2.0).", int),
    Opt(
        "global_physnet_mtu",
        1500,
        "MTU of the underlying physical networks; tenant network MTUs are derived from it "
        "(less the encapsulation overhead for VXLAN).",
        int,
    ),
    Opt(
        "base_mac",
        "fa:16:3e:00:00:00",
        "Base MAC address of ports: the first three octets are kept, the rest is random.",
    ),
    Opt("agent_down_time", 75, "Seconds without a heartbeat after which an agent is dead.", int),
    Opt(
        "default_availability_zones",
        [],
        "Availability zones of networks and routers created without availability zone hints.",
        list,
    ),
    Opt("max_routes", 30, "Most static routes a router may hold.", int),
    Opt("max_allowed_address_pair", 10, "Most allowed address pairs a port may hold.", int),
    Opt("max_dns_nameservers", 5, "Most DNS servers a subnet may list.", int),
    Opt("max_subnet_host_routes", 20, "Most host routes a subnet may list.", int),
    Opt("enable_snat_by_default", True, "Whether router gateways SNAT unless told not to.", bool),
    Opt(
        "pagination_max_limit",
        1000,
        "Most items one list response holds; longer lists are paged with a next link.",
        int,
    ),
)
register_service_credentials("network", "neutron")

register(
    "ml2",
    Opt(
        "type_drivers",
        ["local", "flat", "vlan", "vxlan"],
        "Network segment types this cloud offers (of local, flat, vlan, vxlan).",
        list,
    ),
    Opt(
        "tenant_network_types",
        ["vxlan"],
        "Segment types given to project networks, in order of preference: the first that "
        "has a free segment is used.",
        list,
    ),
    Opt(
        "mechanism_drivers",
        ["linuxbridge"],
        "Mechanism drivers that bind ports, tried in order.",
        list,
    ),
    Opt(
        "path_mtu",
        0,
        "MTU of the path VXLAN packets travel between hosts (0: global_physnet_mtu).",
        int,
    ),
)
register(
    "ml2_type_flat",
    Opt(
        "flat_networks",
        ["*"],
        "Physical networks flat networks may be created on ('*': any).",
        list,
    ),
)
register(
    "ml2_type_vlan",
    Opt(
        "network_vlan_ranges",
        [],
        "Physical networks for VLAN networks, as physnet:first:last (with a range project "
        "networks get VLANs from) or physnet (provider networks only).",
        list,
    ),
)
register(
    "ml2_type_vxlan",
    Opt(
        "vni_ranges",
        ["1:1000"],
        "VXLAN network identifiers project networks get, as first:last ranges.",
        list,
    ),
)

QUOTA_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "subnetpool": -1,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}
register(
    "quotas",
    *(
        Opt(f"quota_{name}", limit, f"Default {name} quota of a project (-1: unlimited).", int)
        for name, limit in QUOTA_DEFAULTS.items()
    ),
)

# The agents' options are declared beside the agents; load them with the service's.
from stratus.network.agent import options as _agent_options  # noqa: E402, F401
