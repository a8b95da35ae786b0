"""Hosts and services as the agents report them; quotas; claims under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Env


def test_hosts_show_capacity_and_use(env: Env) -> None:
    env.image()
    env.run(memory=1024, cpu=2)
    (host,) = env.call("GET", "/v1/hosts", "admin").json()["hosts"]
    assert (host["hostname"], host["cpus"], host["mem_total"]) == ("node1", 4, 4096)
    assert (host["cpu_used"], host["mem_used"]) == (2.0, 1024)
    assert host["availability_zone"] == "nova"
    shown = env.call("GET", f"/v1/hosts/{host['uuid']}", "admin").json()
    assert shown["hostname"] == "node1"
    assert env.call("GET", "/v1/hosts", "demo").status_code == 403


def test_services_list_the_agents(env: Env) -> None:
    (service,) = env.call("GET", "/v1/services", "admin").json()["services"]
    assert (service["host"], service["binary"], service["state"]) == (
        "node1",
        "zun-compute",
        "up",
    )


def test_host_with_docker_down_takes_nothing(env: Env) -> None:
    env.image()
    env.driver.down = "Docker is not answering"
    env.agent.reconcile()
    env.wait_for_host(lambda h: h["driver_status"] == "Docker is not answering")
    response = env.call("POST", "/v1/containers", json={"image": "busybox"})
    assert response.status_code == 400


def test_quota_show_update_defaults_delete(env: Env) -> None:
    env.image()
    project = env.users["demo"].project_id
    env.run(memory=64, cpu=0.5)
    shown = env.call("GET", f"/v1/quotas/{project}").json()
    assert shown == {"containers": 40, "cpu": 20.0, "memory": 51200}
    assert env.call("PUT", f"/v1/quotas/{project}", json={"cpu": 1}).status_code == 403
    updated = env.call("PUT", f"/v1/quotas/{project}", "admin", json={"cpu": 1, "memory": 100})
    assert updated.json()["cpu"] == 1
    usage = env.call("GET", f"/v1/quotas/{project}?usages=True").json()
    assert usage["cpu"] == {"limit": 1, "in_use": 0.5}
    assert usage["memory"] == {"limit": 100, "in_use": 64}
    defaults = env.call("GET", f"/v1/quotas/{project}/defaults").json()
    assert defaults["cpu"] == 20.0
    assert env.call("DELETE", f"/v1/quotas/{project}", "admin").status_code == 204
    assert env.call("GET", f"/v1/quotas/{project}").json()["cpu"] == 20.0
    other = env.users["other"].project_id
    assert env.call("GET", f"/v1/quotas/{other}").status_code == 403


def test_concurrent_runs_never_overcommit_a_host(env: Env) -> None:
    """The host has 4096 MB: of twelve racing 512 MB requests exactly eight fit."""
    env.image()

    def run(_: int) -> int:
        body = {"image": "busybox", "memory": 512}
        return env.call("POST", "/v1/containers", json=body).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(run, range(12)))
    assert sorted(codes) == [202] * 8 + [400] * 4
    (host,) = env.call("GET", "/v1/hosts", "admin").json()["hosts"]
    assert host["mem_used"] == 4096


def test_racing_runs_on_two_hosts_never_pass_the_project_quota(env: Env) -> None:
    env.image()
    env.agent.host = "node2"  # a second host with the same room reports too
    env.report()
    env.wait_for_host(lambda h: True)
    project = env.users["demo"].project_id
    env.call("PUT", f"/v1/quotas/{project}", "admin", json={"containers": 5})

    def run(_: int) -> int:
        body = {"image": "busybox", "memory": 64}
        return env.call("POST", "/v1/containers", json=body).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(run, range(10)))
    assert sorted(codes) == [202] * 5 + [413] * 5


def test_a_resize_is_claimed_on_the_host(env: Env) -> None:
    env.image()
    uuid = env.run(memory=1024)["uuid"]
    env.wait_status(uuid, "Running")
    too_much = env.call("PATCH", f"/v1/containers/{uuid}", json={"memory": 5000, "name": "x"})
    assert too_much.status_code == 409 and "no room" in too_much.json()["errors"][0]["detail"]
    assert env.show(uuid)["name"] is None  # nothing of a refused update is kept
    fits = env.call("PATCH", f"/v1/containers/{uuid}", json={"memory": 4096})
    assert fits.status_code == 200, fits.text


def test_availability_zones(env: Env) -> None:
    response = env.call("GET", "/v1/availability_zones", "reader")
    assert response.json() == {"availability_zones": [{"availability_zone": "nova"}]}
