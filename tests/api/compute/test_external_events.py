"""A server shows the floating IPs on its ports: the network service tells the compute
service (``os-server-external-events``, ``network-changed`` with the port as tag) when
one comes or goes, and the compute service reads them again from the network API. Both
APIs are the real ones, in-process; the events go from one to the other over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from stratus.compute.floating_ips import Healing
from stratus.compute.models import InstanceFloatingIP
from stratus.network.compute_events import ComputeEvents
from stratus.runtime.clients.catalog import ServiceClient
from tests.api.compute.conftest import Env
from tests.api.compute.test_networking import net, network


@pytest.fixture
def events_to_compute(netenv: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The network service sends its events to this test's compute API."""
    network_app = netenv.cloud.network.app
    service = ServiceClient(network_app.state.validator, "compute", "RegionOne", http=netenv.client)
    monkeypatch.setattr(network_app.state.backend, "compute_events", ComputeEvents(service))


@pytest.fixture
def routed(netenv: Env) -> Iterator[dict[str, str]]:
    """A private network routed to an external one; the router and floating IPs go after."""
    public = net(
        netenv,
        "POST",
        "networks",
        "admin",
        json={"network": {"name": "ext", "router:external": True}},
    )
    public_id = public["network"]["id"]
    subnet = {"network_id": public_id, "cidr": "198.51.100.0/24", "ip_version": 4}
    net(netenv, "POST", "subnets", "admin", json={"subnet": subnet})
    private = network(netenv, "private", "10.2.0.0/24")
    subnet_id = net(netenv, "GET", "subnets", params={"network_id": private})["subnets"][0]["id"]
    body = {"router": {"name": "r", "external_gateway_info": {"network_id": public_id}}}
    router = net(netenv, "POST", "routers", json=body)["router"]
    net(
        netenv, "PUT", f"routers/{router['id']}/add_router_interface", json={"subnet_id": subnet_id}
    )
    yield {"public": public_id, "private": private}
    for floating in net(netenv, "GET", "floatingips", "admin")["floatingips"]:
        net(netenv, "DELETE", f"floatingips/{floating['id']}", "admin")
    path = f"routers/{router['id']}/remove_router_interface"
    net(netenv, "PUT", path, json={"subnet_id": subnet_id})
    net(netenv, "DELETE", f"routers/{router['id']}")


def _floating(server: dict[str, Any]) -> list[str]:
    return [
        a["addr"]
        for entries in server["addresses"].values()
        for a in entries
        if a["OS-EXT-IPS:type"] == "floating"
    ]


def _wait_floating(netenv: Env, server_id: str, expected: list[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while _floating(server := netenv.show(server_id)) != expected:
        assert time.monotonic() < deadline, f"floating IPs {_floating(server)}, not {expected}"
        time.sleep(0.02)
    return server


@pytest.mark.usefixtures("events_to_compute")
def test_a_server_shows_the_floating_ip_on_its_port(netenv: Env, routed: dict[str, str]) -> None:
    server = netenv.boot(networks=[{"uuid": routed["private"]}])
    assert _floating(server) == []
    port = net(netenv, "GET", "ports", params={"device_id": server["id"]})["ports"][0]
    body = {"floatingip": {"floating_network_id": routed["public"], "port_id": port["id"]}}
    floating = net(netenv, "POST", "floatingips", json=body)["floatingip"]
    address = floating["floating_ip_address"]

    shown = _wait_floating(netenv, server["id"], [address])
    entries = shown["addresses"]["private"]
    assert [e["OS-EXT-IPS:type"] for e in entries] == ["fixed", "floating"]
    assert entries[1]["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"]
    assert entries[1]["version"] == 4
    listed = netenv.ok("GET", "/servers/detail", version="2.79")["servers"]
    assert [_floating(s) for s in listed if s["id"] == server["id"]] == [[address]]

    # An event with no port names re-reads every port of the server.
    with netenv.backend.db.session() as session:
        session.execute(sa.delete(InstanceFloatingIP))
    assert _floating(netenv.show(server["id"])) == []
    untagged = {"name": "network-changed", "server_uuid": server["id"]}
    netenv.ok("POST", "/os-server-external-events", "admin", json={"events": [untagged]})
    assert _floating(netenv.show(server["id"])) == [address]

    net(netenv, "PUT", f"floatingips/{floating['id']}", json={"floatingip": {"port_id": None}})
    _wait_floating(netenv, server["id"], [])
    net(
        netenv, "PUT", f"floatingips/{floating['id']}", json={"floatingip": {"port_id": port["id"]}}
    )
    _wait_floating(netenv, server["id"], [address])
    net(netenv, "DELETE", f"floatingips/{floating['id']}")
    _wait_floating(netenv, server["id"], [])

    # A server deleted with a floating IP on its port keeps no record of it.
    body["floatingip"]["port_id"] = port["id"]
    again = net(netenv, "POST", "floatingips", json=body)["floatingip"]
    _wait_floating(netenv, server["id"], [again["floating_ip_address"]])
    assert netenv.call("DELETE", f"/servers/{server['id']}").status_code == 204
    netenv.wait_gone(server["id"])
    with netenv.backend.db.session() as session:
        assert session.scalars(sa.select(InstanceFloatingIP)).all() == []


def test_floating_ips_no_event_told_of_are_healed(netenv: Env, routed: dict[str, str]) -> None:
    """Without events (none reach this compute API here), the conductor's rounds read the
    servers' floating IPs again, a batch of servers at a time: as many rounds of one
    server as there are servers reach them all."""
    servers = [netenv.boot(networks=[{"uuid": routed["private"]}])["id"] for _ in range(3)]
    addresses = {}
    for server_id in servers:
        port = net(netenv, "GET", "ports", params={"device_id": server_id})["ports"][0]
        body = {"floatingip": {"floating_network_id": routed["public"], "port_id": port["id"]}}
        floating = net(netenv, "POST", "floatingips", json=body)["floatingip"]
        addresses[server_id] = [floating["floating_ip_address"]]
    everyone = netenv.ok("GET", "/servers", "admin", params={"all_tenants": "1"})["servers"]

    def heal() -> dict[str, list[str]]:
        healing = Healing(netenv.backend.db, netenv.backend.network, batch=1)
        for _ in everyone:
            healing.run()
        return {server_id: _floating(netenv.show(server_id)) for server_id in servers}

    assert heal() == addresses
    for floating in net(netenv, "GET", "floatingips")["floatingips"]:
        net(netenv, "DELETE", f"floatingips/{floating['id']}")
    assert heal() == dict.fromkeys(servers, [])


def test_events_are_for_services_and_say_what_was_wrong(netenv: Env) -> None:
    server = netenv.boot()
    event = {"name": "network-changed", "server_uuid": server["id"], "tag": "p1"}
    path = "/os-server-external-events"

    refused = netenv.call("POST", path, "demo", json={"events": [event]})
    assert refused.status_code == 403
    done = netenv.ok("POST", path, "admin", json={"events": [event]})["events"]
    assert done == [{**event, "status": "completed", "code": 200}]

    missing = {**event, "server_uuid": "00000000-0000-4000-8000-000000000000"}
    partly = netenv.call("POST", path, "admin", json={"events": [event, missing]})
    assert partly.status_code == 207
    assert [(e["code"], e["status"]) for e in partly.json()["events"]] == [
        (200, "completed"),
        (404, "failed"),
    ]
    none_found = netenv.call("POST", path, "admin", json={"events": [missing]})
    assert none_found.status_code == 404
    assert "No instances found" in none_found.json()["itemNotFound"]["message"]

    for bad in (
        {"events": []},
        {"events": [{**event, "name": "power-update"}]},  # from 2.76 on
        {"events": [{**event, "name": "no-such-event"}]},
        {"events": [{**event, "color": "red"}]},
    ):
        response = netenv.call("POST", path, "admin", json=bad, version="2.75")
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["badRequest"]["message"]
    later = {**event, "name": "power-update"}
    accepted = netenv.call("POST", path, "admin", json={"events": [later]}, version="2.76")
    assert accepted.status_code == 200, accepted.text
