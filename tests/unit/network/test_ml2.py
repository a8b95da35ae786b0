"""Type drivers (segments for providers and projects, freed with their network) and the
Linux bridge mechanism driver (binding by what the host's agent reaches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.backend import Backend
from stratus.network.errors import NoNetworkAvailable
from stratus.network.ml2.manager import Ml2
from stratus.network.ml2.mechanism import LINUXBRIDGE_AGENT, BindingRequest
from stratus.network.ml2.types import VNI_MAX, parse_range, parse_vlan_ranges
from stratus.runtime.api.errors import BadRequest, Conflict
from stratus.runtime.config import Config, ConfigError


def test_vlan_ranges_parse() -> None:
    assert parse_vlan_ranges(["physnet1:100:102", "physnet2", "physnet1:200:200"]) == {
        "physnet1": [(100, 102), (200, 200)],
        "physnet2": [],
    }
    for bad in ("physnet1:5", "physnet1:200:100", "physnet1:0:10", ":1:2", "p:1:5000"):
        with pytest.raises(ConfigError):
            parse_vlan_ranges([bad])
    assert parse_range("1:1000", VNI_MAX, "vni_ranges") == (1, 1000)
    with pytest.raises(ConfigError, match="vni_ranges: '1:99999999' is not a range"):
        parse_range("1:99999999", VNI_MAX, "vni_ranges")


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ("[ml2]\ntype_drivers = local,gre\n", "type_drivers: 'gre'"),
        ("[ml2]\ntype_drivers = local\ntenant_network_types = vxlan\n", "tenant_network_types"),
        ("[ml2]\nmechanism_drivers = openvswitch\n", "mechanism_drivers: 'openvswitch'"),
    ],
)
def test_bad_ml2_config_is_refused(
    config_with: Callable[[str], Config], extra: str, error: str
) -> None:
    with pytest.raises(ConfigError, match=error):
        Ml2(config_with(extra))


def segments(backend: Backend, **provider: Any) -> tuple[Any, ...]:
    def work(session: Session) -> Any:
        network = models.Network(project_id="p", mtu=0)
        session.add(network)
        session.flush()
        segment = backend.ml2.create_segment(session, network.id, **provider)
        return (
            segment.network_type,
            segment.physical_network,
            segment.segmentation_id,
            backend.ml2.mtu(segment),
        )

    return backend.transaction(work)


def test_tenant_networks_get_vnis_until_none_is_left(backend: Backend) -> None:
    assert [segments(backend)[2] for _ in range(3)] == [1, 2, 3]
    with pytest.raises(NoNetworkAvailable, match="No tenant network is available"):
        segments(backend)


def test_tenant_network_types_are_tried_in_order(backend_with: Callable[[str], Backend]) -> None:
    backend = backend_with("[ml2]\ntenant_network_types = vlan,vxlan\n")
    kinds = [segments(backend)[:3] for _ in range(5)]
    assert kinds == [
        ("vlan", "physnet1", 100),
        ("vlan", "physnet1", 101),
        ("vlan", "physnet1", 102),
        ("vxlan", None, 1),
        ("vxlan", None, 2),
    ]


def test_deleting_a_network_frees_its_segment(backend: Backend) -> None:
    segments(backend)
    segments(backend)

    def drop_first(session: Session) -> Any:
        segment = session.scalar(
            sa.select(models.Segment).where(models.Segment.segmentation_id == 1)
        )
        session.delete(session.get(models.Network, segment.network_id))

    backend.transaction(drop_first)
    assert (
        backend.transaction(
            lambda s: s.scalar(sa.select(sa.func.count()).select_from(models.SegmentAllocation))
        )
        == 1
    )
    assert segments(backend)[2] == 1


def test_provider_segments(backend) -> None:
    assert segments(
        backend, network_type="vlan", physical_network="physnet2", segmentation_id=7
    ) == (
        "vlan",
        "physnet2",
        7,
        1500,
    )
    with pytest.raises(Conflict, match="VLAN 7 on physical network physnet2 is in use"):
        segments(backend, network_type="vlan", physical_network="physnet2", segmentation_id=7)
    assert segments(backend, network_type="vlan", physical_network="physnet1")[2] == 100
    assert segments(backend, network_type="flat", physical_network="public")[:2] == (
        "flat",
        "public",
    )
    with pytest.raises(Conflict, match="Physical network public is in use"):
        segments(backend, network_type="flat", physical_network="public")
    assert segments(backend, network_type="vxlan", segmentation_id=500)[2:] == (500, 1450)
    with pytest.raises(Conflict, match="tunnel ID 500 is in use"):
        segments(backend, network_type="vxlan", segmentation_id=500)
    assert segments(backend, network_type="local")[:3] == ("local", None, None)


@pytest.mark.parametrize(
    ("provider", "error"),
    [
        (
            {"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 4095},
            "out of range",
        ),
        (
            {"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 0},
            "out of range",
        ),
        (
            {"network_type": "vlan", "physical_network": "nowhere", "segmentation_id": 5},
            "not one of network_vlan_ranges",
        ),
        ({"network_type": "vlan", "segmentation_id": 5}, "physical_network is required"),
        ({"network_type": "vxlan", "segmentation_id": 2**24}, "out of range"),
        ({"network_type": "vxlan", "physical_network": "physnet1"}, "not allowed for vxlan"),
        ({"network_type": "flat"}, "need provider:physical_network"),
        ({"network_type": "flat", "physical_network": "physnet2"}, "not one of flat_networks"),
        (
            {"network_type": "flat", "physical_network": "public", "segmentation_id": 3},
            "not allowed for flat",
        ),
        ({"network_type": "local", "segmentation_id": 3}, "not allowed for local"),
        ({"network_type": "geneve"}, "not supported"),
    ],
)
def test_bad_provider_attributes(backend: Backend, provider: dict[str, Any], error: str) -> None:
    with pytest.raises(BadRequest, match=error):
        segments(backend, **provider)


def test_provider_vlan_range_exhausted(backend: Backend) -> None:
    for _ in range(3):
        segments(backend, network_type="vlan", physical_network="physnet1")
    with pytest.raises(NoNetworkAvailable):
        segments(backend, network_type="vlan", physical_network="physnet1")


def _agent(configurations: dict[str, Any]) -> models.Agent:
    return models.Agent(agent_type=LINUXBRIDGE_AGENT, host="h1", configurations=configurations)


@pytest.mark.parametrize(
    ("segment", "configurations", "bound"),
    [
        (("local", None), {}, True),
        (("vxlan", None), {"tunnel_types": ["vxlan"]}, True),
        (("vxlan", None), {}, False),
        (("vlan", "physnet1"), {"interface_mappings": {"physnet1": "eth1"}}, True),
        (("flat", "physnet2"), {"interface_mappings": {"physnet1": "eth1"}}, False),
    ],
)
def test_linuxbridge_binds_what_its_agent_reaches(
    backend: Backend, segment: tuple[str, str | None], configurations: dict[str, Any], bound: bool
) -> None:
    network_id = "0123456789abcdef-0000-0000-0000-000000000000"
    request = BindingRequest(
        network_id=network_id,
        vnic_type="normal",
        host="h1",
        segments=[models.Segment(network_type=segment[0], physical_network=segment[1])],
        agents=[_agent(configurations)],
    )
    binding = backend.ml2.bind(request)
    if not bound:
        assert binding is None
        return
    assert binding.vif_type == "bridge"
    assert binding.vif_details == {
        "connectivity": "l2",
        "port_filter": True,
        "bridge_name": "brq0123456789a",
    }


def test_linuxbridge_needs_an_agent_and_a_normal_vnic(backend: Backend) -> None:
    segment = models.Segment(network_type="local")
    no_agent = BindingRequest("n", "normal", "h1", [segment], [])
    assert backend.ml2.bind(no_agent) is None
    direct = BindingRequest("n", "direct", "h1", [segment], [_agent({})])
    assert backend.ml2.bind(direct) is None
