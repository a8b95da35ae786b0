"""Concurrent requests to a served network API, on SQLite and on PostgreSQL: addresses
are never shared, overlapping subnets never both land on one network, and a rule is
never created twice."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Env

THREADS = 12


def together(count: int, send: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def test_concurrent_requests(served: tuple[Env, str]) -> None:
    env, base = served
    headers = {"X-Auth-Token": env.users["demo"].token}
    network = env.network()
    env.subnet(network["id"], "10.0.0.0/24")

    def port(i: int) -> httpx.Response:
        body = {"port": {"network_id": network["id"], "name": f"p{i}"}}
        return httpx.post(f"{base}/ports", json=body, headers=headers, timeout=60)

    created = together(THREADS, port)
    assert [r.status_code for r in created] == [201] * THREADS
    addresses = [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in created]
    assert len(set(addresses)) == THREADS and "10.0.0.2" not in addresses  # DHCP's

    target = env.network()

    def subnet(i: int) -> httpx.Response:
        cidr = "10.1.0.0/16" if i % 2 else f"10.1.{i}.0/24"  # each /24 overlaps the /16
        body = {"subnet": {"network_id": target["id"], "cidr": cidr, "ip_version": 4}}
        return httpx.post(f"{base}/subnets", json=body, headers=headers, timeout=60)

    results = together(THREADS, subnet)
    made = [r.json()["subnet"]["cidr"] for r in results if r.status_code == 201]
    refused = [r for r in results if r.status_code != 201]
    assert all(r.status_code == 400 and "overlaps" in r.text for r in refused), refused
    assert made
    nets = [ipaddress.ip_network(c) for c in made]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])

    group = env.create("security_group", name="web")

    def rule(_: int) -> httpx.Response:
        body = {
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
            }
        }
        return httpx.post(f"{base}/security-group-rules", json=body, headers=headers, timeout=60)

    statuses = sorted(r.status_code for r in together(THREADS, rule))
    assert statuses == [201] + [409] * (THREADS - 1)


def delete_at_once(url: str, headers: dict[str, str], count: int = 4) -> list[httpx.Response]:
    return together(count, lambda _: httpx.delete(url, headers=headers, timeout=60))


# A second DELETE that found the rows gone only at its flush warned (an error here: a 500).
@pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")
def test_concurrent_deletes_of_one_resource(served: tuple[Env, str]) -> None:
    """Of DELETEs of one resource at once, one removes it and the others find it gone."""
    env, base = served
    headers = {"X-Auth-Token": env.users["demo"].token}
    network = env.network()
    env.subnet(network["id"], "10.0.0.0/24")
    for _ in range(3):
        port = env.port(network["id"])
        deleted = delete_at_once(f"{base}/ports/{port['id']}", headers)
        assert sorted(r.status_code for r in deleted) == [204, 404, 404, 404], deleted
        gone = [r.json()["NeutronError"]["type"] for r in deleted if r.status_code == 404]
        assert gone == ["PortNotFound"] * 3
    deleted = delete_at_once(f"{base}/networks/{network['id']}", headers)
    assert sorted(r.status_code for r in deleted) == [204, 404, 404, 404], deleted
