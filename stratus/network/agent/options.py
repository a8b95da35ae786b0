"""Options of the network agents (L2, DHCP, L3) and of port plugging on a host."""

from __future__ import annotations

from stratus.network import public  # noqa: F401 - declares [network] public_* options
from stratus.runtime.config import Opt, register

register(
    "network_agent",
    Opt(
        "state_path",
        "{data_dir}/network",
        "Where the network agents keep their state on this host: dnsmasq files and the "
        "record of the bridges, devices and namespaces they made.",
    ),
    Opt("report_interval", 30, "Seconds between an agent's heartbeats to the server.", int),
    Opt(
        "resync_interval",
        30,
        "Seconds between full reconciliations of this host with the server's state "
        "(changes are also applied soon after the server hints at them).",
        int,
    ),
    Opt(
        "hint_delay",
        0.1,
        "Seconds a pass that the server's hints asked for waits for more of them, so that "
        "the changes of one request (a port made, then bound) take one pass, and its work "
        "stays out of the way of the request's own (a pass a caller waits for starts at "
        "once).",
        float,
    ),
    Opt(
        "owner_prefix",
        "stratus",
        "Prefix of the firewall and NAT chains, sets and tables the agents own "
        "(1-10 lowercase letters or digits).",
    ),
    Opt("availability_zone", "nova", "Availability zone of this host's DHCP and L3 agents."),
)
register(
    "linux_bridge",
    Opt(
        "physical_interface_mappings",
        [],
        "physnet:interface pairs: the host interface each flat or VLAN physical network "
        "is reached through. [network] public_physnet is always mapped to "
        "[network] public_bridge.",
        list,
    ),
)
register(
    "vxlan",
    Opt("enable_vxlan", True, "Carry VXLAN networks (over unicast, peers from the server).", bool),
    Opt("local_ip", "{my_ip}", "This host's VXLAN endpoint address."),
    Opt("udp_port", 4789, "UDP port of VXLAN packets.", int),
)
