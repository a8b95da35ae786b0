"""``/v2.0/subnets`` and ``/v2.0/subnetpools``: CIDRs, pools, gateway, DHCP, IPv6 modes,
overlap rules and allocation from subnet pools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Env


def dhcp_ports(env: Env, network_id: str) -> list[dict[str, Any]]:
    params = {"network_id": network_id, "device_owner": "network:dhcp"}
    return env.ok("GET", "ports", "admin", params=params)["ports"]


def test_create_ipv4_with_defaults(env: Env) -> None:
    network = env.network()
    subnet = env.subnet(network["id"], name="sub1")
    assert subnet["cidr"] == "10.0.0.0/24" and subnet["ip_version"] == 4
    assert subnet["gateway_ip"] == "10.0.0.1" and subnet["enable_dhcp"] is True
    assert subnet["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert subnet["dns_nameservers"] == [] and subnet["host_routes"] == []
    assert subnet["project_id"] == env.project("demo") and subnet["revision_number"] == 1
    (dhcp,) = dhcp_ports(env, network["id"])
    assert dhcp["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.2"}]
    assert dhcp["device_id"] == "reserved_dhcp_port" and dhcp["security_groups"] == []
    shown = env.ok("GET", f"networks/{network['id']}")["network"]
    assert shown["subnets"] == [subnet["id"]] and shown["revision_number"] == 2


def test_create_with_everything(env: Env) -> None:
    network = env.network()
    subnet = env.subnet(
        network["id"],
        "192.168.5.0/24",
        gateway_ip="192.168.5.254",
        allocation_pools=[{"start": "192.168.5.10", "end": "192.168.5.20"}],
        dns_nameservers=["8.8.8.8", "1.1.1.1"],
        host_routes=[{"destination": "172.16.0.0/16", "nexthop": "192.168.5.1"}],
        enable_dhcp=False,
        description="mine",
    )
    assert subnet["gateway_ip"] == "192.168.5.254"
    assert subnet["allocation_pools"] == [{"start": "192.168.5.10", "end": "192.168.5.20"}]
    assert subnet["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]
    assert subnet["host_routes"] == [{"destination": "172.16.0.0/16", "nexthop": "192.168.5.1"}]
    assert dhcp_ports(env, network["id"]) == []  # DHCP off: no DHCP port
    port = env.port(network["id"])
    assert port["fixed_ips"][0]["ip_address"] == "192.168.5.10"


def test_no_gateway(env: Env) -> None:
    network = env.network()
    subnet = env.subnet(network["id"], "10.9.0.0/29", gateway_ip=None, enable_dhcp=False)
    assert subnet["gateway_ip"] is None
    assert subnet["allocation_pools"] == [{"start": "10.9.0.1", "end": "10.9.0.6"}]


def test_ipv6_subnets(env: Env) -> None:
    network = env.network()
    slaac = env.subnet(
        network["id"], "2001:db8::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac"
    )
    assert slaac["gateway_ip"] == "2001:db8::1"
    stateful = env.subnet(network["id"], "2001:db8:1::/64", ipv6_address_mode="dhcpv6-stateful")
    port = env.port(network["id"], mac_address="fa:16:3e:aa:bb:cc")
    addresses = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    assert addresses[slaac["id"]] == "2001:db8::f816:3eff:feaa:bbcc"
    assert addresses[stateful["id"]].startswith("2001:db8:1::")
    error = env.error(
        400,
        "POST",
        "ports",
        json={
            "port": {
                "network_id": network["id"],
                "fixed_ips": [{"subnet_id": slaac["id"], "ip_address": "2001:db8::5"}],
            }
        },
    )
    assert "cannot be directly assigned" in error["message"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"cidr": "10.0.0.0/33"}, 400, "'10.0.0.0/33' is not a valid IP subnet"),
        ({"cidr": "banana"}, 400, "'banana' is not a valid IP subnet"),
        ({"cidr": "10.0.0.5/24"}, 400, "has host bits set"),
        ({"cidr": "10.0.0.0/31"}, 400, "leaves no addresses"),
        ({"cidr": "10.0.0.0/24", "ip_version": 6}, 400, "does not match cidr"),
        ({"cidr": "10.0.0.0/24", "ip_version": 5}, 400, "ip_version"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"}, 400, "not a usable address"),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.255"}, 400, "not a usable address"),
        (
            {
                "cidr": "10.0.0.0/24",
                "allocation_pools": [{"start": "10.0.0.200", "end": "10.0.1.5"}],
            },
            400,
            "spans beyond the subnet cidr",
        ),
        (
            {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.5"}]},
            409,
            "Gateway ip 10.0.0.1 conflicts",
        ),
        ({"cidr": "10.0.0.0/24", "dns_nameservers": ["8.8.8.8", "8.8.8.8"]}, 400, "duplicates"),
        (
            {"cidr": "10.0.0.0/24", "dns_nameservers": ["dns.example"]},
            400,
            "not a valid IP address",
        ),
        (
            {
                "cidr": "10.0.0.0/24",
                "host_routes": [{"destination": "::/0", "nexthop": "10.0.0.1"}],
            },
            400,
            "is not IPv4",
        ),
        ({"cidr": "10.0.0.0/24", "ipv6_address_mode": "slaac"}, 400, "IPv6 subnets only"),
        ({"cidr": "2001:db8::/80", "ipv6_address_mode": "slaac"}, 400, "needs a /64 prefix"),
        (
            {
                "cidr": "2001:db8::/64",
                "ipv6_address_mode": "slaac",
                "ipv6_ra_mode": "dhcpv6-stateful",
            },
            400,
            "must be the same",
        ),
        ({}, 400, "a cidr or a subnetpool_id is required"),
    ],
)
def test_bad_subnets(env: Env, body: dict[str, Any], status: int, message: str) -> None:
    network = env.network()
    error = env.error(
        status, "POST", "subnets", json={"subnet": {"network_id": network["id"], **body}}
    )
    assert message in error["message"]


def test_overlap_is_refused_within_a_network_only(env: Env) -> None:
    first, second = env.network(), env.network()
    env.subnet(first["id"], "10.0.0.0/16")
    error = env.error(
        400,
        "POST",
        "subnets",
        json={"subnet": {"network_id": first["id"], "cidr": "10.0.5.0/24", "ip_version": 4}},
    )
    assert "overlaps with subnet" in error["message"] and "10.0.0.0/16" in error["message"]
    assert env.subnet(second["id"], "10.0.5.0/24")["cidr"] == "10.0.5.0/24"


def test_who_may_add_subnets(env: Env) -> None:
    mine = env.network()
    shared = env.network("admin", shared=True)
    env.error(
        404,
        "POST",
        "subnets",
        "other",
        json={"subnet": {"network_id": mine["id"], "cidr": "10.0.0.0/24"}},
    )
    error = env.error(
        403, "POST", "subnets", json={"subnet": {"network_id": shared["id"], "cidr": "10.0.0.0/24"}}
    )
    assert "create_subnet" in error["message"]
    subnet = env.subnet(shared["id"], user="admin")
    assert env.ok("GET", f"subnets/{subnet['id']}", "other")["subnet"]["id"] == subnet["id"]
    env.error(403, "DELETE", f"subnets/{subnet['id']}", "other")


def test_update(env: Env) -> None:
    network = env.network()
    subnet = env.subnet(network["id"])
    path = f"subnets/{subnet['id']}"
    updated = env.ok(
        "PUT",
        path,
        json={"subnet": {"name": "n", "dns_nameservers": ["9.9.9.9"], "host_routes": []}},
    )["subnet"]
    assert updated["name"] == "n" and updated["dns_nameservers"] == ["9.9.9.9"]
    assert updated["revision_number"] == 2
    conflict = env.error(409, "PUT", path, json={"subnet": {"gateway_ip": "10.0.0.20"}})
    assert "conflicts with allocation pool" in conflict["message"]
    moved = env.ok(
        "PUT",
        path,
        json={
            "subnet": {
                "gateway_ip": "10.0.0.254",
                "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.253"}],
            }
        },
    )["subnet"]
    assert moved["gateway_ip"] == "10.0.0.254"
    readonly = env.error(400, "PUT", path, json={"subnet": {"cidr": "10.1.0.0/24"}})
    assert "'subnet.cidr' is not an allowed field" in readonly["message"]
    env.ok("PUT", path, json={"subnet": {"enable_dhcp": False}})
    assert dhcp_ports(env, network["id"]) == []
    env.ok("PUT", path, json={"subnet": {"enable_dhcp": True}})
    assert len(dhcp_ports(env, network["id"])) == 1


def test_gateway_held_by_a_port_cannot_move_there(env: Env) -> None:
    network = env.network()
    subnet = env.subnet(
        network["id"], allocation_pools=[{"start": "10.0.0.2", "end": "10.0.0.100"}]
    )
    env.port(network["id"], fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.200"}])
    error = env.error(
        409, "PUT", f"subnets/{subnet['id']}", json={"subnet": {"gateway_ip": "10.0.0.200"}}
    )
    assert error["type"] == "IpAddressInUse"


def test_delete(env: Env) -> None:
    network = env.network()
    first = env.subnet(network["id"])
    second = env.subnet(network["id"], "10.1.0.0/24")
    port = env.port(network["id"], fixed_ips=[{"subnet_id": first["id"]}])
    error = env.error(409, "DELETE", f"subnets/{first['id']}")
    assert error["type"] == "SubnetInUse" and "One or more ports" in error["message"]
    env.ok("DELETE", f"subnets/{second['id']}")  # only the DHCP port held an address
    (dhcp,) = dhcp_ports(env, network["id"])
    assert [ip["subnet_id"] for ip in dhcp["fixed_ips"]] == [first["id"]]
    env.ok("DELETE", f"ports/{port['id']}")
    env.ok("DELETE", f"subnets/{first['id']}")
    assert dhcp_ports(env, network["id"]) == []
    assert env.ok("GET", f"networks/{network['id']}")["network"]["subnets"] == []


def test_list_filters(env: Env) -> None:
    network = env.network()
    env.subnet(network["id"], name="a")
    env.subnet(network["id"], "2001:db8::/64", name="b")

    def names(**params: object) -> list[str]:
        return sorted(s["name"] for s in env.ok("GET", "subnets", params=params)["subnets"])

    assert names(ip_version=6) == ["b"]
    assert names(cidr="10.0.0.0/24") == ["a"]
    assert names(network_id=network["id"]) == ["a", "b"]
    assert names() == ["a", "b"] and env.ok("GET", "subnets", "other")["subnets"] == []


def test_subnet_pools(env: Env) -> None:
    pool = env.create(
        "subnetpool", name="p", prefixes=["10.10.0.0/16"], default_prefixlen=24, max_prefixlen=28
    )
    assert pool["ip_version"] == 4 and pool["min_prefixlen"] == 8 and pool["is_default"] is False
    network = env.network()
    carved = [
        env.create("subnet", network_id=network["id"], subnetpool_id=pool["id"], ip_version=4)[
            "cidr"
        ]
        for _ in range(2)
    ]
    assert carved == ["10.10.0.0/24", "10.10.1.0/24"]
    small = env.create(
        "subnet", network_id=env.network()["id"], subnetpool_id=pool["id"], prefixlen=28
    )
    assert small["cidr"] == "10.10.2.0/28" and small["subnetpool_id"] == pool["id"]
    outside = env.error(
        400,
        "POST",
        "subnets",
        json={
            "subnet": {
                "network_id": network["id"],
                "subnetpool_id": pool["id"],
                "cidr": "10.20.0.0/24",
            }
        },
    )
    assert "not within the prefixes" in outside["message"]
    clash = env.error(
        409,
        "POST",
        "subnets",
        json={
            "subnet": {
                "network_id": env.network()["id"],
                "subnetpool_id": pool["id"],
                "cidr": "10.10.0.0/25",
            }
        },
    )
    assert "overlaps a subnet already allocated" in clash["message"]
    bounds = env.error(
        400,
        "POST",
        "subnets",
        json={
            "subnet": {"network_id": network["id"], "subnetpool_id": pool["id"], "prefixlen": 30}
        },
    )
    assert "outside /8 to /28" in bounds["message"]
    in_use = env.error(409, "DELETE", f"subnetpools/{pool['id']}")
    assert in_use["type"] == "SubnetPoolInUse"
    grown = env.ok(
        "PUT", f"subnetpools/{pool['id']}", json={"subnetpool": {"prefixes": ["10.10.0.0/15"]}}
    )
    assert grown["subnetpool"]["prefixes"] == ["10.10.0.0/15"]
    shrunk = env.error(
        400, "PUT", f"subnetpools/{pool['id']}", json={"subnetpool": {"prefixes": ["10.10.0.0/24"]}}
    )
    assert "existing prefixes must be retained" in shrunk["message"]


def test_default_subnet_pool_and_pool_rules(env: Env) -> None:
    env.error(
        403,
        "POST",
        "subnetpools",
        json={"subnetpool": {"prefixes": ["10.0.0.0/8"], "is_default": True}},
    )
    pool = env.create(
        "subnetpool",
        "admin",
        prefixes=["10.64.0.0/16"],
        is_default=True,
        shared=True,
        default_prefixlen=26,
    )
    again = env.error(
        409,
        "POST",
        "subnetpools",
        "admin",
        json={"subnetpool": {"prefixes": ["10.65.0.0/16"], "is_default": True}},
    )
    assert "default subnetpool for IPv4 has already been set" in again["message"]
    subnet = env.create(
        "subnet", network_id=env.network()["id"], use_default_subnetpool=True, ip_version=4
    )
    assert subnet["cidr"] == "10.64.0.0/26" and subnet["subnetpool_id"] == pool["id"]
    mixed = env.error(
        400,
        "POST",
        "subnetpools",
        json={"subnetpool": {"prefixes": ["10.0.0.0/8", "2001:db8::/32"]}},
    )
    assert "cannot be mixed" in mixed["message"]
    bounds = env.error(
        400,
        "POST",
        "subnetpools",
        json={
            "subnetpool": {"prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "default_prefixlen": 16}
        },
    )
    assert "Illegal prefix bounds" in bounds["message"]


def test_subnet_pool_quota(env: Env) -> None:
    pool = env.create(
        "subnetpool", prefixes=["10.0.0.0/16"], default_quota=512, default_prefixlen=24
    )
    network = env.network()
    env.create("subnet", network_id=network["id"], subnetpool_id=pool["id"])
    env.create("subnet", network_id=network["id"], subnetpool_id=pool["id"])
    error = env.error(
        409,
        "POST",
        "subnets",
        json={"subnet": {"network_id": network["id"], "subnetpool_id": pool["id"]}},
    )
    assert error["type"] == "SubnetPoolQuotaExceeded"
