"""The networking issue's client commands, run with the real openstack client as admin and
as the demo project, against a cloud started as ``make run`` starts it (with its agents)."""

from __future__ import annotations

import time
import uuid

import pytest

from stratus.testing.cloud import Cloud

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_agents_report_and_everyone_can_list_them(cloud: Cloud) -> None:
    deadline = time.monotonic() + 60
    while True:
        agents = cloud.openstack("network", "agent", "list", "-f", "json")
        kinds = {a["Agent Type"] for a in agents if a["Alive"] in (True, ":-)")}
        if kinds >= {"Linux bridge agent", "DHCP agent", "L3 agent"} or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert kinds >= {"Linux bridge agent", "DHCP agent", "L3 agent"}, agents
    as_demo = cloud.openstack("network", "agent", "list", "-f", "json", cloud="stratus-demo")
    assert {a["ID"] for a in as_demo} == {a["ID"] for a in agents}


@pytest.mark.parametrize("who", ["stratus", "stratus-demo"])
def test_networks_subnets_ports_routers_floating_ips_and_groups(cloud: Cloud, who: str) -> None:
    def client(*args: str) -> object:
        return cloud.openstack(*args, cloud=who)

    net, sub, port, router, group = (unique(p) for p in ("net1", "sub1", "p1", "r1", "sg1"))
    created = client("network", "create", net, "-f", "json")
    assert created["status"] == "ACTIVE" and created["router:external"] is False
    assert net in {n["Name"] for n in client("network", "list", "-f", "json")}
    client("network", "set", "--description", "the first", net)
    assert client("network", "show", net, "-f", "json")["description"] == "the first"

    subnet = client(
        "subnet", "create", "--subnet-range", "10.0.0.0/24", "--network", net, sub, "-f", "json"
    )
    assert subnet["gateway_ip"] == "10.0.0.1" and subnet["cidr"] == "10.0.0.0/24"
    made = client("port", "create", "--network", net, port, "-f", "json")
    address = (
        made["fixed_ips"][0]["ip_address"]
        if isinstance(made["fixed_ips"], list)
        else str(made["fixed_ips"])
    )
    assert "10.0.0." in address

    client("router", "create", router, "-f", "json")
    client("router", "add", "subnet", router, sub)
    client("router", "set", "--external-gateway", "public", router)
    shown = client("router", "show", router, "-f", "json")
    assert shown["external_gateway_info"]["network_id"]

    fip = client("floating", "ip", "create", "public", "-f", "json")
    client("floating", "ip", "set", "--port", port, fip["floating_ip_address"])
    attached = client("floating", "ip", "show", fip["floating_ip_address"], "-f", "json")
    assert attached["port_id"] == made["id"] and attached["fixed_ip_address"] == address

    client("security", "group", "create", group, "-f", "json")
    rule = client(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        group,
        "-f",
        "json",
    )
    assert rule["port_range_min"] == 22 and rule["port_range_max"] == 22

    refused = cloud.openstack("network", "delete", net, cloud=who, check=False)
    assert refused.returncode != 0 and "in use" in refused.stderr.lower()
    client("floating", "ip", "delete", fip["floating_ip_address"])
    client("router", "unset", "--external-gateway", router)
    client("router", "remove", "subnet", router, sub)
    client("router", "delete", router)
    client("port", "delete", port)
    client("security", "group", "delete", group)
    client("network", "delete", net)
    assert net not in {n["Name"] for n in client("network", "list", "-f", "json")}


def test_a_project_cannot_see_another_projects_network(cloud: Cloud) -> None:
    name = unique("admin-only")
    cloud.openstack("network", "create", name, "-f", "json")
    demo_sees = {
        n["Name"] for n in cloud.openstack("network", "list", "-f", "json", cloud="stratus-demo")
    }
    assert name not in demo_sees and "public" in demo_sees
    cloud.openstack("network", "delete", name)
