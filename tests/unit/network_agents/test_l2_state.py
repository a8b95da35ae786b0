"""What the L2 agent derives from the server's state without touching the host: the
firewall of the host's ports, its interface mappings, and the names it wires with."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.host import firewall
from stratus.network.agent import devices
from stratus.network.agent.l2 import _mappings, ruleset_of
from stratus.runtime.config import Config

PORT = "6f1c2d3e-aaaa-4bbb-8ccc-000000000001"
DHCP_PORT = "7f1c2d3e-aaaa-4bbb-8ccc-000000000002"
NETWORK = "0a1b2c3d-1111-4222-8333-444444444444"


def port(port_id: str, owner: str, groups: list[str]) -> dict:
    return {
        "id": port_id,
        "network_id": NETWORK,
        "mac_address": "fa:16:3e:00:00:01",
        "device_owner": owner,
        "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}],
        "allowed_address_pairs": [{"ip_address": "10.0.0.0/28", "mac_address": None}],
        "security_groups": groups,
        "port_security_enabled": True,
    }


def test_ruleset_filters_instances_and_trusts_network_devices() -> None:
    rule = {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": None,
        "remote_group_id": "g",
    }
    state = {
        "ports": [port(PORT, "compute:nova", ["g"]), port(DHCP_PORT, "network:dhcp", [])],
        "security_groups": {"g": {"id": "g", "rules": [rule]}},
        "members": {"g": {"IPv4": ["10.0.0.5"], "IPv6": ["fd00::5"]}},
    }
    ruleset = ruleset_of(state)
    instance, dhcp = ruleset.ports
    assert instance.device == "tap6f1c2d3e-aa" and instance.port_security_enabled
    assert instance.allowed_address_pairs == (firewall.AddressPair("10.0.0.0/28", None),)
    assert dhcp.device == devices.port_device(DHCP_PORT) and not dhcp.port_security_enabled
    assert ruleset.rules["g"] == (firewall.Rule("ingress", "IPv4", "tcp", 22, 22, None, "g"),)
    assert ruleset.members == {"g": ("10.0.0.5", "fd00::5")}
    firewall.render(ruleset, zones={"brq0a1b2c3d-11": 1})  # the host layer accepts it


def _conf(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "stratus.conf"
    path.write_text(text)
    return Config(path)


def test_the_public_physnet_is_mapped_to_the_public_bridge(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "[linux_bridge]\nphysical_interface_mappings = physnet1:eth1\n")
    assert _mappings(conf) == {"physnet1": "eth1", "public": "br-ex"}
    bad = _conf(tmp_path, "[linux_bridge]\nphysical_interface_mappings = eth1\n")
    with pytest.raises(ValueError, match="physnet:interface"):
        _mappings(bad)


def test_device_names_fit_in_an_interface_name() -> None:
    names = [
        devices.port_device(PORT),
        devices.inner_device(devices.ROUTER_GATEWAY_PREFIX, PORT),
        devices.vxlan_device(NETWORK),
        *devices.patch_devices(NETWORK),
        devices.vlan_device("enp0s31f6-long", 4094),
    ]
    assert all(len(name) <= 15 for name in names), names
    assert devices.vlan_device("enp0s31f6-long", 4094).endswith(".4094")
