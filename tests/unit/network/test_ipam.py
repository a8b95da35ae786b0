"""Address math, and addresses handed to ports: lowest free first, checked when asked
for, returned to the pool on delete."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import ipam, models, ports
from stratus.network.backend import Backend
from stratus.network.ranges import free_in_ranges, pick_free
from stratus.runtime.api.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from conftest import Factory

net = ipaddress.ip_network


def test_parse_cidr_explains_what_is_wrong() -> None:
    assert ipam.parse_cidr("10.0.0.0/24") == net("10.0.0.0/24")
    with pytest.raises(BadRequest, match="not a valid IP subnet"):
        ipam.parse_cidr("10.0.0.0/33")
    with pytest.raises(BadRequest, match="host bits set; the subnet it names is '10.0.0.0/24'"):
        ipam.parse_cidr("10.0.0.5/24")
    with pytest.raises(BadRequest, match="not a valid IP subnet"):
        ipam.parse_cidr("banana")


def test_usable_addresses_skip_network_and_ipv4_broadcast() -> None:
    first, last = ipam.usable(net("10.0.0.0/24"))
    assert (str(ipaddress.ip_address(first)), str(ipaddress.ip_address(last))) == (
        "10.0.0.1",
        "10.0.0.254",
    )
    first6, last6 = ipam.usable(net("2001:db8::/126"))
    assert last6 - first6 == 2  # IPv6 has no broadcast address
    with pytest.raises(BadRequest, match="no addresses"):
        ipam.check_size(net("10.0.0.0/31"))


def test_default_pools_leave_out_the_gateway() -> None:
    pools = ipam.default_pools(net("10.0.0.0/24"), ipaddress.ip_address("10.0.0.1"))
    assert pools == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    middle = ipam.default_pools(net("10.0.0.0/29"), ipaddress.ip_address("10.0.0.4"))
    assert middle == [
        {"start": "10.0.0.1", "end": "10.0.0.3"},
        {"start": "10.0.0.5", "end": "10.0.0.6"},
    ]
    v6 = ipam.default_pools(net("2001:db8::/64"), ipaddress.ip_address("2001:db8::1"))
    assert v6 == [{"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}]


@pytest.mark.parametrize(
    ("pools", "error"),
    [
        ([{"start": "10.0.0.10", "end": "10.0.1.5"}], "spans beyond the subnet"),
        ([{"start": "10.0.0.0", "end": "10.0.0.5"}], "spans beyond the subnet"),
        ([{"start": "10.0.0.20", "end": "10.0.0.10"}], "starts after it ends"),
        ([{"start": "10.0.0.1", "end": "10.0.0.9"}], "conflicts with allocation pool"),
        (
            [
                {"start": "10.0.0.10", "end": "10.0.0.20"},
                {"start": "10.0.0.15", "end": "10.0.0.30"},
            ],
            "overlapping allocation pools",
        ),
        ([{"start": "fe80::1", "end": "fe80::9"}], "is not IPv4"),
    ],
)
def test_pools_are_checked(pools: list[dict[str, str]], error: str) -> None:
    with pytest.raises((BadRequest, Conflict), match=error):
        ipam.check_pools(net("10.0.0.0/24"), pools, ipaddress.ip_address("10.0.0.1"))


def test_free_values_are_the_gaps_lowest_first() -> None:
    assert list(free_in_ranges([(1, 5), (10, 12)], [2, 3, 11])) == [1, 4, 5, 10, 12]
    assert pick_free([(1, 3)], [1, 2, 3]) is None
    huge = free_in_ranges([(0, 2**64)], [0])
    assert next(huge) == 1  # lazily: a /64 is never enumerated


def test_eui64_address_from_a_mac() -> None:
    address = ipam.eui64(net("2001:db8::/64"), "fa:16:3e:12:34:56")
    assert str(address) == "2001:db8::f816:3eff:fe12:3456"


def test_carve_takes_the_lowest_free_block() -> None:
    prefixes = [net("10.0.0.0/16")]
    assert ipam.carve(prefixes, [], 24) == net("10.0.0.0/24")
    used = [net("10.0.0.0/24"), net("10.0.2.0/23")]
    assert ipam.carve(prefixes, used, 24) == net("10.0.1.0/24")
    assert ipam.carve(prefixes, used, 22) == net("10.0.4.0/22")
    assert ipam.carve(prefixes, [net("10.0.0.0/16")], 24) is None
    assert ipam.carve([net("2001:db8::/48")], [], 64) == net("2001:db8::/64")


def test_ports_get_the_lowest_free_address_and_it_returns_on_delete(
    backend: Backend, factory: Factory
) -> None:
    def setup(session: Session) -> Any:
        network = factory.network(session)
        factory.subnet(session, network, "10.0.0.0/29")  # .2 to .6 allocatable
        return network.id

    network_id = backend.transaction(setup)

    def create(session: Session) -> Any:
        network = session.get(models.Network, network_id)
        return factory.port(session, network).fixed_ips[0].ip_address

    first = [backend.transaction(create) for _ in range(5)]
    assert first == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(Conflict, match="No more IP addresses"):
        backend.transaction(create)

    def release(session: Session) -> Any:
        held = session.scalar(
            sa.select(models.IPAllocation).where(models.IPAllocation.ip_address == "10.0.0.4")
        )
        ports.delete(session, session.get(models.Port, held.port_id))

    backend.transaction(release)
    assert backend.transaction(create) == "10.0.0.4"


def test_requested_addresses_are_checked(backend: Backend, factory: Factory) -> None:
    def work(session: Session) -> Any:
        network = factory.network(session)
        subnet = factory.subnet(session, network, "10.0.0.0/24")
        factory.port(session, network, fixed_ips=[ports.FixedIP(subnet.id, "10.0.0.50")])
        cases = {
            "10.0.0.50": "already allocated",
            "10.0.0.1": "is the gateway",
            "10.0.1.5": "not a valid IP for any of the subnets",
            "10.0.0.255": "not a valid IP for subnet",
            "nonsense": "not a valid IP address",
        }
        for address, error in cases.items():
            with pytest.raises((BadRequest, Conflict), match=error):
                factory.port(session, network, fixed_ips=[ports.FixedIP(None, address)])
        # An address outside the pools but inside the subnet may be asked for.
        outside = ports.FixedIP(subnet.id, "10.0.0.1")
        router_port = factory.port(
            session, network, device_owner=ports.ROUTER_INTERFACE, fixed_ips=[outside]
        )
        assert router_port.fixed_ips[0].ip_address == "10.0.0.1"

    backend.transaction(work)


def test_default_addresses_one_per_version_and_slaac(backend: Backend, factory: Factory) -> None:
    def work(session: Session) -> Any:
        network = factory.network(session)
        factory.subnet(session, network, "10.0.0.0/24")
        factory.subnet(session, network, "10.0.1.0/24")
        factory.subnet(
            session, network, "2001:db8::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac"
        )
        port = factory.port(session, network, mac_address="fa:16:3e:00:00:01")
        return sorted(a.ip_address for a in port.fixed_ips)

    assert backend.transaction(work) == ["10.0.0.2", "2001:db8::f816:3eff:fe00:1"]


def test_full_subnet_falls_over_to_the_next(backend: Backend, factory: Factory) -> None:
    def work(session: Session) -> Any:
        network = factory.network(session)
        factory.subnet(session, network, "10.0.0.0/30")  # one address: .2
        factory.subnet(session, network, "10.0.1.0/24")
        return [factory.port(session, network).fixed_ips[0].ip_address for _ in range(2)]

    assert backend.transaction(work) == ["10.0.0.2", "10.0.1.2"]
