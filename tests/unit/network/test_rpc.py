"""The server side of the agents' RPC interface, called on the endpoint object and once
over the in-process bus."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.identity import options as identity_options  # noqa: F401 - auth_url names its port
from stratus.network import dhcp, models, ports, routers, topics
from stratus.network.api import build_part
from stratus.network.backend import Backend
from stratus.network.rpc import ServerEndpoint
from stratus.runtime import migrations
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.bus import connect
from stratus.runtime.config import Config
from stratus.runtime.db import utcnow
from stratus.runtime.process import Runtime

if TYPE_CHECKING:
    from conftest import Factory


def state(agent_type: str, host: str, **configurations: Any) -> dict[str, Any]:
    binary = {"Linux bridge agent": "l2", "DHCP agent": "dhcp", "L3 agent": "l3"}[agent_type]
    return {
        "agent_type": agent_type,
        "binary": f"stratus-{binary}-agent",
        "host": host,
        "topic": f"network.{binary}_agent",
        "availability_zone": "az1",
        "configurations": configurations,
        "start_flag": True,
    }


L2 = {"tunnel_types": ["vxlan"], "tunneling_ip": "192.0.2.1"}


@pytest.fixture
def endpoint(backend: Backend) -> ServerEndpoint:
    return ServerEndpoint(backend)


def test_report_state_records_and_refreshes_agents(
    endpoint: ServerEndpoint, backend: Backend
) -> None:
    first = endpoint.report_state(state("Linux bridge agent", "h1", **L2))
    again = endpoint.report_state({**state("Linux bridge agent", "h1", **L2), "start_flag": False})
    assert first == again and first["admin_state_up"] is True
    agent = backend.transaction(lambda s: s.get_one(models.Agent, first["id"]))
    assert agent.configurations == L2 and agent.availability_zone is None  # L2 has no zone
    dhcp = endpoint.report_state(state("DHCP agent", "h1"))
    assert dhcp["id"] != first["id"]
    with pytest.raises(BadRequest, match="needs host"):
        endpoint.report_state({"agent_type": "DHCP agent", "binary": "b", "topic": "t"})


def _network_with_port(
    backend: Backend, factory: Factory, host: str, **spec: Any
) -> tuple[str, str]:
    def work(session: Session) -> tuple[str, str]:
        network = factory.network(session)
        factory.subnet(session, network, "10.0.0.0/24")
        port = factory.port(session, network, host=host, **spec)
        return network.id, port.id

    return backend.transaction(work)


def test_l2_state_and_port_status(
    endpoint: ServerEndpoint, backend: Backend, factory: Factory
) -> None:
    endpoint.report_state(state("Linux bridge agent", "h1", **L2))
    endpoint.report_state(state("Linux bridge agent", "h2", **{**L2, "tunneling_ip": "192.0.2.2"}))
    network_id, port_id = _network_with_port(backend, factory, "h1")
    _, elsewhere = _network_with_port(backend, factory, "nowhere")  # no agent: not bound

    def peer(session: Session) -> None:
        network = session.get_one(models.Network, network_id)
        factory.port(session, network, host="h2")

    backend.transaction(peer)
    l2 = endpoint.get_l2_state(agent_host="h1")
    assert [p["id"] for p in l2["ports"]] == [port_id]
    port = l2["ports"][0]
    assert port["vif_type"] == "bridge" and port["status"] == "DOWN"
    assert l2["networks"][network_id]["bridge"] == "brq" + network_id[:11]
    assert l2["networks"][network_id]["network_type"] == "vxlan"
    assert l2["networks"][network_id]["peers"] == ["192.0.2.2"]
    (group_id,) = port["security_groups"]
    group = l2["security_groups"][group_id]
    assert {(r["direction"], r["ethertype"]) for r in group["rules"]} == {
        ("egress", "IPv4"),
        ("egress", "IPv6"),
        ("ingress", "IPv4"),
        ("ingress", "IPv6"),
    }
    # The default group lets in its members: both ports of the project.
    assert len(l2["members"][group_id]["IPv4"]) == 2

    assert endpoint.update_ports_status(agent_host="h1", up=[port_id, elsewhere], down=[]) == [
        port_id
    ]
    assert endpoint.update_ports_status(agent_host="h1", up=[port_id], down=[]) == []
    assert endpoint.get_l2_state(agent_host="h1")["ports"][0]["status"] == "ACTIVE"
    assert endpoint.update_ports_status(agent_host="h1", up=[], down=[port_id]) == [port_id]


def test_dhcp_networks_go_to_one_usable_agent(
    endpoint: ServerEndpoint, backend: Backend, factory: Factory
) -> None:
    assert endpoint.get_dhcp_state(agent_host="h1") == {"networks": []}  # not an agent yet
    for host in ("h1", "h2"):
        endpoint.report_state(state("Linux bridge agent", host, **L2))
        endpoint.report_state(state("DHCP agent", host))

    def work(session: Session) -> str:
        network = factory.network(session)
        factory.subnet(session, network, "10.0.0.0/24")
        dhcp.sync_port(session, backend, network)
        return network.id

    network_id = backend.transaction(work)
    (served,) = endpoint.get_dhcp_state(agent_host="h1")["networks"]
    assert served["id"] == network_id and served["subnets"][0]["cidr"] == "10.0.0.0/24"
    assert served["port"]["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    assert served["port"]["vif_type"] == "bridge"
    assert endpoint.get_dhcp_state(agent_host="h2") == {"networks": []}

    def expire_h1(session: Session) -> None:
        agent = session.scalar(
            sa.select(models.Agent).where(
                models.Agent.host == "h1", models.Agent.agent_type == "DHCP agent"
            )
        )
        agent.heartbeat_timestamp = utcnow() - timedelta(hours=1)

    backend.transaction(expire_h1)
    (moved,) = endpoint.get_dhcp_state(agent_host="h2")["networks"]
    assert moved["port"]["device_id"] == "dhcp-h2"
    zones = backend.transaction(
        lambda s: s.scalars(sa.select(models.NetworkDhcpAgent.agent_id)).all()
    )
    assert len(zones) == 1


def test_l3_state_and_floating_ip_status(
    endpoint: ServerEndpoint, backend: Backend, factory: Factory
) -> None:
    endpoint.report_state(
        state("Linux bridge agent", "net1", **L2, interface_mappings={"public": "eth1"})
    )
    endpoint.report_state(state("L3 agent", "net1"))

    def work(session: Session) -> tuple[str, str]:
        public = factory.network(
            session, project="admin", network_type="flat", physical_network="public"
        )
        public.external = True
        factory.subnet(session, public, "203.0.113.0/24")
        internal = factory.network(session)
        subnet = factory.subnet(session, internal, "10.0.0.0/24")
        vm = factory.port(session, internal)
        router = models.Router(project_id="p1", routes=[], availability_zone_hints=[])
        session.add(router)
        session.flush()
        routers.set_gateway(session, backend, router, routers.Gateway(public, False, None))
        routers.add_interface_by_subnet(session, backend, router, subnet)
        floating_port = factory.port(
            session, public, device_owner=ports.FLOATING_IP, security_groups=[]
        )
        floating = models.FloatingIP(
            project_id="p1",
            floating_network_id=public.id,
            floating_port_id=floating_port.id,
            floating_ip_address=floating_port.fixed_ips[0].ip_address,
            fixed_port_id=vm.id,
            fixed_ip_address=vm.fixed_ips[0].ip_address,
            router_id=router.id,
        )
        session.add(floating)
        session.flush()
        return router.id, floating.id

    router_id, floating_id = backend.transaction(work)
    assert endpoint.get_l3_state(agent_host="elsewhere") == {"routers": []}
    (router,) = endpoint.get_l3_state(agent_host="net1")["routers"]
    assert router["id"] == router_id and router["enable_snat"] is False
    assert router["gateway"]["network"]["network_type"] == "flat"
    assert router["gateway"]["vif_type"] == "bridge"
    (interface,) = router["interfaces"]
    assert interface["fixed_ips"][0]["ip_address"] == "10.0.0.1"
    assert interface["subnets"][0]["cidr"] == "10.0.0.0/24"
    assert router["floating_ips"][0]["fixed_ip_address"] == "10.0.0.2"
    statuses = {floating_id: "ACTIVE", "unknown": "ACTIVE"}
    assert endpoint.update_floatingip_statuses(agent_host="elsewhere", statuses=statuses) == []
    assert endpoint.update_floatingip_statuses(agent_host="net1", statuses=statuses) == [
        floating_id
    ]


def test_served_over_the_bus(backend: Backend) -> None:
    bus = connect("memory://network-rpc-test")
    try:
        bus.serve(topics.SERVER, ServerEndpoint(backend))
        reply = bus.call(topics.SERVER, "report_state", agent=state("DHCP agent", "h1"))
        assert reply["admin_state_up"] is True
        assert bus.call(topics.SERVER, "get_dhcp_state", agent_host="h1") == {"networks": []}
    finally:
        bus.close()


def test_the_part_serves_the_api_and_the_rpc_interface(tmp_path: Path) -> None:
    path = tmp_path / "stratus.conf"
    path.write_text(
        f"[DEFAULT]\ndata_dir = {tmp_path / 'data'}\ntransport_url = memory://{tmp_path.name}\n"
    )
    runtime = Runtime(Config(path))
    try:
        migrations.upgrade("network", runtime.database("network"))
        part = build_part(runtime)
        assert (part.name, part.port) == ("network-server", 9696)
        reply = runtime.bus.call(topics.SERVER, "report_state", agent=state("L3 agent", "h1"))
        assert reply["admin_state_up"] is True
    finally:
        runtime.close()
