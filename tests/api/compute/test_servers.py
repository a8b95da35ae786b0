"""Servers: create with every option and every kind of bad input, list filters, show
views at different microversions, update, delete."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.compute.conftest import Env, make_env


def test_boot_and_show(env: Env) -> None:
    created = env.boot(wait=None, name="web", metadata={"role": "web"})
    assert created["adminPass"] and created["security_groups"] == [{"name": "default"}]
    assert created["links"][0]["href"].endswith(f"/v2.1/servers/{created['id']}")
    server = env.wait(created["id"], "ACTIVE")
    assert server["name"] == "web" and server["metadata"] == {"role": "web"}
    assert server["OS-EXT-STS:vm_state"] == "active" and server["OS-EXT-STS:power_state"] == 1
    assert server["flavor"]["original_name"] == "m1.tiny" and server["flavor"]["ram"] == 512
    assert server["image"]["id"] == env.images["cirros"]
    assert server["tenant_id"] == env.users["demo"].project_id and server["hostId"]
    assert server["OS-EXT-AZ:availability_zone"] == "nova" and server["addresses"] == {}
    assert server["OS-SRV-USG:launched_at"] and server["locked"] is False
    assert server["server_groups"] == [] and server["tags"] == []
    assert "OS-EXT-SRV-ATTR:host" not in server and "host_status" not in server
    admin_view = env.show(created["id"], "admin")
    assert admin_view["OS-EXT-SRV-ATTR:host"] in ("node-0", "node-1")
    assert admin_view["OS-EXT-SRV-ATTR:instance_name"] == f"instance-{created['id']}"
    assert admin_view["host_status"] == "UP" and admin_view["OS-EXT-SRV-ATTR:hostname"] == "web"


def test_views_follow_the_microversion(env: Env) -> None:
    server_id = env.boot()["id"]
    old = env.show(server_id, version="2.1")
    assert old["flavor"]["id"] == "1" and "links" in old["flavor"]
    for field in ("locked", "description", "tags", "locked_reason", "server_groups"):
        assert field not in old
    mid = env.show(server_id, version="2.47")
    assert mid["flavor"]["original_name"] == "m1.tiny" and "locked_reason" not in mid
    assert mid["description"] is None and mid["tags"] == []
    admin_old = env.show(server_id, "admin", version="2.1")
    assert "OS-EXT-SRV-ATTR:hostname" not in admin_old
    assert "OS-EXT-SRV-ATTR:hostname" in env.show(server_id, "admin", version="2.3")


def test_create_with_options(env: Env) -> None:
    key = env.ok("POST", "/os-keypairs", json={"keypair": {"name": "mykey"}})["keypair"]
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    server = env.boot(
        key_name="mykey",
        user_data=user_data,
        description="d",
        tags=["a", "b"],
        accessIPv4="10.0.0.9",
        availability_zone="nova",
        config_drive=True,
    )
    assert server["key_name"] == "mykey" and server["description"] == "d"
    assert server["tags"] == ["a", "b"] and server["accessIPv4"] == "10.0.0.9"
    assert server["OS-EXT-AZ:availability_zone"] == "nova" and server["config_drive"] == "True"
    admin = env.show(server["id"], "admin")
    assert admin["OS-EXT-SRV-ATTR:user_data"] == user_data
    wired = env.driver.list_instances(admin["OS-EXT-SRV-ATTR:host"])
    assert server["id"] in wired and key["name"] == "mykey"


def test_image_as_mapped_root_disk(env: Env) -> None:
    mapping = {
        "uuid": env.images["cirros"],
        "boot_index": 0,
        "source_type": "image",
        "destination_type": "local",
        "delete_on_termination": True,
    }
    server = env.boot(block_device_mapping_v2=[mapping])
    assert server["image"]["id"] == env.images["cirros"]
    other = {**mapping, "uuid": env.images["private"]}
    body = {
        "name": "x",
        "imageRef": env.images["cirros"],
        "flavorRef": "1",
        "networks": "none",
        "block_device_mapping_v2": [other],
    }
    assert env.call("POST", "/servers", json={"server": body}, version="2.79").status_code == 400
    volume = {**mapping, "destination_type": "volume", "volume_size": 1}
    body = {**body, "block_device_mapping_v2": [volume]}
    assert env.call("POST", "/servers", json={"server": body}, version="2.79").status_code == 400


def test_multiple_create(env: Env) -> None:
    created = env.call(
        "POST",
        "/servers",
        version="2.79",
        json={
            "server": {
                "name": "many",
                "imageRef": env.images["cirros"],
                "flavorRef": "42",
                "networks": "none",
                "min_count": 3,
                "return_reservation_id": True,
            }
        },
    )
    assert created.status_code == 202
    reservation = created.json()["reservation_id"]
    listed = env.ok("GET", "/servers/detail", params={"reservation_id": reservation})["servers"]
    assert sorted(s["name"] for s in listed) == ["many-1", "many-2", "many-3"]
    for server in listed:
        env.wait(server["id"], "ACTIVE")


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"flavorRef": "nope"}, 400, "Flavor nope could not be found"),
        ({"imageRef": "9b5ecb39-0000-4000-8000-000000000000"}, 400, "could not be found"),
        ({"key_name": "nokey"}, 400, "Invalid key_name"),
        ({"user_data": "not base64!"}, 400, "base 64"),
        ({"availability_zone": "nowhere"}, 400, "availability zone"),
        ({"networks": [{"uuid": "not-a-uuid"}]}, 400, "UUID"),
        ({"networks": [{"uuid": "9b5ecb39-0000-4000-8000-000000000000"}]}, 400, "network service"),
        ({"networks": "some"}, 400, ""),
        ({"name": ""}, 400, ""),
        ({"bogus": 1}, 400, "bogus"),
        ({"min_count": 2, "max_count": 1}, 400, "min_count"),
        ({"availability_zone": "nova:node-0"}, 403, ""),
        ({"host": "node-0"}, 403, ""),
        ({"block_device_mapping_v2": [{"boot_index": 0}]}, 400, "local root disk"),
        ({"trusted_image_certificates": ["x"]}, 400, "not supported"),
        ({"personality": [{"path": "/etc/motd", "contents": "aGk="}]}, 400, ""),
    ],
)
def test_bad_create(env: Env, change: dict, status: int, words: str) -> None:
    body = {"name": "bad", "imageRef": env.images["cirros"], "flavorRef": "1", "networks": "none"}
    response = env.call("POST", "/servers", json={"server": {**body, **change}}, version="2.79")
    assert response.status_code == status, response.text
    assert words in response.text
    assert env.ok("GET", "/servers")["servers"] == []


def test_bad_images(env: Env) -> None:
    body = {"name": "bad", "flavorRef": "1", "networks": "none"}
    for image, words in (
        (env.images["other"], "could not be found"),
        (env.images["queued"], "is not active"),
        (env.images["big"], "memory is too small"),
    ):
        response = env.call(
            "POST", "/servers", json={"server": {**body, "imageRef": image}}, version="2.79"
        )
        assert response.status_code == 400 and words in response.text, response.text
    response = env.call(
        "POST", "/servers", json={"server": {**body, "imageRef": ""}}, version="2.79"
    )
    assert response.status_code == 400
    # Images that are no disk a VM boots, refused before anything is allocated.
    for formats, words in (
        ({"container_format": "docker", "disk_format": "raw"}, "is a container image"),
        ({"container_format": "aki", "disk_format": "aki"}, "is a kernel image"),
        ({"container_format": "ari", "disk_format": "ari"}, "is a ramdisk image"),
        ({"container_format": "bare", "disk_format": "ploop"}, "has disk_format ploop"),
        ({"container_format": "ova", "disk_format": "vmdk"}, "has container_format ova"),
    ):
        image = env.cloud.create_image("demo", name="not-a-disk", **formats)
        response = env.call(
            "POST", "/servers", json={"server": {**body, "imageRef": image}}, version="2.79"
        )
        assert response.status_code == 400, response.text
        message = response.json()["badRequest"]["message"]
        assert message.startswith(f"Image {image} {words}"), message
    assert env.ok("GET", "/servers")["servers"] == []
    held = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert held["memory_mb_used"] == 0
    # A rebuild is refused the same way, and leaves the server as it was.
    server = env.boot()
    rebuilt = env.action(server["id"], {"rebuild": {"imageRef": image}})
    assert rebuilt.status_code == 400 and "container_format ova" in rebuilt.text, rebuilt.text
    shown = env.show(server["id"])
    assert shown["status"] == "ACTIVE" and shown["image"]["id"] == env.images["cirros"]


def test_networks_and_microversions(env: Env) -> None:
    body = {"name": "n", "imageRef": env.images["cirros"], "flavorRef": "1"}
    assert env.call("POST", "/servers", json={"server": body}, version="2.37").status_code == 400
    old = env.call("POST", "/servers", json={"server": body})  # 2.1: every usable network
    assert old.status_code == 202
    auto = env.call(
        "POST", "/servers", json={"server": {**body, "networks": "auto"}}, version="2.37"
    )
    assert auto.status_code == 202  # no network service: nothing to allocate
    for server_id in (old.json()["server"]["id"], auto.json()["server"]["id"]):
        assert env.wait(server_id, "ACTIVE")["addresses"] == {}
    described = env.call("POST", "/servers", json={"server": {**body, "description": "x"}})
    assert described.status_code == 400


def test_bad_bodies(env: Env) -> None:
    assert (
        env.call(
            "POST", "/servers", content=b"{", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        env.call(
            "POST", "/servers", content=b"{}", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    assert env.call("POST", "/servers", json=[]).status_code == 400
    assert env.call("POST", "/servers", json={"server": {}}).status_code == 400


def test_no_valid_host_is_a_fault(env: Env) -> None:
    body = {"flavor": {"name": "huge", "ram": 40000, "vcpus": 1, "disk": 1, "id": "huge"}}
    env.ok("POST", "/flavors", "admin", json=body)
    server = env.boot(wait="ERROR", flavorRef="huge")
    assert server["fault"]["code"] == 500
    assert server["fault"]["message"].startswith("No valid host was found")
    assert "details" not in server["fault"]
    assert "details" in env.show(server["id"], "admin")["fault"]
    held = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert held["memory_mb_used"] == 0
    listed = env.ok("GET", "/servers/detail", params={"status": "ERROR"})["servers"]
    assert [s["id"] for s in listed] == [server["id"]]


def test_build_failure_is_retried_then_errors(env: Env) -> None:
    env.driver.fail_spawn_on = {"node-0"}
    server = env.boot()
    assert env.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"] == "node-1"
    env.driver.fail_spawn_on = {"node-0", "node-1"}
    failed = env.boot(wait="ERROR")
    assert failed["fault"]["message"].startswith("No valid host was found")  # both hosts tried
    actions = env.ok("GET", f"/servers/{failed['id']}/os-instance-actions")["instanceActions"]
    assert actions[0]["action"] == "create" and actions[0]["message"] == "Error"
    failures = env.build_events(failed["id"])
    assert [e["result"] for e in failures] == ["Error", "Error"]
    assert {e["host"] for e in failures} == {"node-0", "node-1"}
    assert "simulated failure" in failures[0]["traceback"]
    stats = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert stats["memory_mb_used"] == 512  # only the first server holds memory


def test_retries_stop_at_max_attempts(cloud, compute_tables, tmp_path) -> None:
    for env in make_env(cloud, compute_tables, tmp_path, "[scheduler]\nmax_attempts = 1\n"):
        env.driver.fail_spawn_on = {"node-0", "node-1"}
        failed = env.boot(wait="ERROR")
        assert failed["fault"]["message"].startswith("Exceeded maximum number of retries.")
        assert "simulated failure" in failed["fault"]["message"]


def test_quota_exceeded(env: Env) -> None:
    demo = env.users["demo"].project_id
    env.ok("PUT", f"/os-quota-sets/{demo}", "admin", json={"quota_set": {"instances": 1}})
    env.boot()
    body = {"name": "x", "imageRef": env.images["cirros"], "flavorRef": "1", "networks": "none"}
    over = env.call("POST", "/servers", json={"server": body}, version="2.79")
    assert over.status_code == 403 and "Quota exceeded for instances" in over.text
    metadata = {str(i): "v" for i in range(129)}
    env.ok("DELETE", f"/os-quota-sets/{demo}", "admin", 202)
    over = env.call(
        "POST", "/servers", json={"server": {**body, "metadata": metadata}}, version="2.79"
    )
    assert over.status_code == 403 and "metadata_items" in over.text
    capped = env.call(
        "POST",
        "/servers",
        version="2.79",
        json={"server": {**body, "min_count": 1, "max_count": 50}},
    )
    assert capped.status_code == 202
    assert len(env.ok("GET", "/servers")["servers"]) == 10  # as many as the quota allows


def test_other_projects_cannot_see_or_touch(env: Env) -> None:
    server = env.boot()
    for method, path in (
        ("GET", f"/servers/{server['id']}"),
        ("PUT", f"/servers/{server['id']}"),
        ("DELETE", f"/servers/{server['id']}"),
        ("POST", f"/servers/{server['id']}/action"),
        ("GET", f"/servers/{server['id']}/metadata"),
        ("GET", f"/servers/{server['id']}/os-instance-actions"),
    ):
        kwargs = {"json": {"server": {"name": "x"}} if method == "PUT" else {"os-stop": None}}
        response = env.call(method, path, "other", **(kwargs if method in ("PUT", "POST") else {}))
        assert response.status_code == 404, (method, path)
    assert env.ok("GET", "/servers", "other")["servers"] == []
    assert env.call("GET", "/servers", "other", params={"all_tenants": "1"}).status_code == 403
    everyone = env.ok("GET", "/servers", "admin", params={"all_tenants": "1"})["servers"]
    assert [s["id"] for s in everyone] == [server["id"]]
    assert (
        env.call(
            "POST", f"/servers/{server['id']}/action", "reader", json={"os-stop": None}
        ).status_code
        == 403
    )
    assert env.call("GET", "/servers/not-a-uuid").status_code == 404


def test_list_filters_and_paging(env: Env) -> None:
    first = env.boot(name="alpha-1", tags=["red"])
    second = env.boot(name="alpha-2", flavorRef="42", tags=["red", "blue"])
    third = env.boot(name="beta", tags=["blue"])

    def names(**query: str) -> list[str]:
        listed = env.ok("GET", "/servers", params=query, version="2.79")["servers"]
        return [s["name"] for s in listed]

    assert names() == ["beta", "alpha-2", "alpha-1"]  # newest first
    assert names(name="^alpha") == ["alpha-2", "alpha-1"]
    assert names(flavor="42") == ["alpha-2"]
    assert names(image=env.images["cirros"]) == ["beta", "alpha-2", "alpha-1"]
    assert names(status="ACTIVE") == ["beta", "alpha-2", "alpha-1"]
    assert names(status="SHUTOFF") == []
    assert names(tags="red,blue") == ["alpha-2"]
    assert names(**{"tags-any": "red"}) == ["alpha-2", "alpha-1"]
    assert names(**{"not-tags": "red,blue"}) == ["beta", "alpha-1"]
    assert names(**{"not-tags-any": "blue"}) == ["alpha-1"]
    assert names(sort_key="display_name", sort_dir="asc") == ["alpha-1", "alpha-2", "beta"]
    page = env.ok("GET", "/servers", params={"limit": 2}, version="2.79")
    assert [s["name"] for s in page["servers"]] == ["beta", "alpha-2"]
    assert f"marker={second['id']}" in page["servers_links"][0]["href"]
    assert names(marker=second["id"]) == ["alpha-1"]
    assert (
        env.call("GET", "/servers", params={"status": "BOGUS"}, version="2.38").status_code == 400
    )
    assert env.ok("GET", "/servers", params={"status": "BOGUS"})["servers"] == []
    assert env.call("GET", "/servers", params={"marker": "nope"}).status_code == 400
    assert env.call("GET", "/servers", params={"name": "("}).status_code == 400
    assert env.call("GET", "/servers", params={"bogus": 1}, version="2.75").status_code == 400
    assert env.call("GET", "/servers", params={"bogus": 1}).status_code == 200
    assert env.call("GET", "/servers", params={"sort_key": "host"}).status_code == 400
    detail = env.ok("GET", "/servers/detail", params={"limit": 1}, version="2.79")
    assert (
        detail["servers"][0]["id"] == third["id"] and "OS-EXT-STS:vm_state" in detail["servers"][0]
    )
    assert first["id"]


def test_changes_since_shows_deleted(env: Env) -> None:
    server = env.boot()
    before = env.show(server["id"])["created"]
    assert env.call("DELETE", f"/servers/{server['id']}").status_code == 204
    env.wait_gone(server["id"])
    assert env.ok("GET", "/servers")["servers"] == []
    changed = env.ok("GET", "/servers/detail", params={"changes-since": before})["servers"]
    assert [(s["id"], s["status"]) for s in changed] == [(server["id"], "DELETED")]
    deleted = env.ok("GET", "/servers", "admin", params={"deleted": "true", "all_tenants": "1"})
    assert [s["id"] for s in deleted["servers"]] == [server["id"]]
    bad = env.call("GET", "/servers", params={"changes-since": "yesterday"})
    assert bad.status_code == 400
    later = env.call(
        "GET",
        "/servers",
        version="2.66",
        params={"changes-since": "2030-01-01T00:00:00Z", "changes-before": "2020-01-01T00:00:00Z"},
    )
    assert later.status_code == 400


def test_update(env: Env) -> None:
    server = env.boot()
    old = env.ok("PUT", f"/servers/{server['id']}", json={"server": {"name": "renamed"}})["server"]
    assert old["name"] == "renamed" and "OS-EXT-STS:vm_state" not in old
    new = env.ok(
        "PUT", f"/servers/{server['id']}", version="2.75", json={"server": {"description": "hello"}}
    )["server"]
    assert new["description"] == "hello" and new["OS-EXT-STS:vm_state"] == "active"
    assert (
        env.call(
            "PUT", f"/servers/{server['id']}", json={"server": {"description": "x"}}
        ).status_code
        == 400
    )
    assert (
        env.call("PUT", f"/servers/{server['id']}", json={"server": {"name": ""}}).status_code
        == 400
    )
    assert (
        env.call("PUT", f"/servers/{server['id']}", json={"server": {"bogus": 1}}).status_code
        == 400
    )


def test_delete_frees_everything(env: Env) -> None:
    group = env.ok(
        "POST",
        "/os-server-groups",
        json={"server_group": {"name": "g", "policies": ["anti-affinity"]}},
    )
    server = env.boot(hints={"group": group["server_group"]["id"]})
    host = env.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"]
    assert env.call("DELETE", f"/servers/{server['id']}").status_code == 204
    env.wait_gone(server["id"])
    assert server["id"] not in env.driver.list_instances(host)
    stats = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert stats["memory_mb_used"] == 0 and stats["running_vms"] == 0
    shown = env.ok("GET", f"/os-server-groups/{group['server_group']['id']}")["server_group"]
    assert shown["members"] == []
    actions = env.ok("GET", f"/servers/{server['id']}/os-instance-actions", version="2.21")
    assert [a["action"] for a in actions["instanceActions"]] == ["delete", "create"]
    assert env.call("GET", f"/servers/{server['id']}/os-instance-actions").status_code == 404


def test_anti_affinity_group_spreads_and_fills(env: Env) -> None:
    group = env.ok(
        "POST",
        "/os-server-groups",
        json={"server_group": {"name": "g", "policies": ["anti-affinity"]}},
    )["server_group"]
    hosts = set()
    for _ in range(2):
        server = env.boot(hints={"group": group["id"]})
        hosts.add(env.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"])
    assert hosts == {"node-0", "node-1"}
    third = env.boot(hints={"group": group["id"]}, wait="ERROR")
    assert "No valid host" in third["fault"]["message"]
    assert env.show(third["id"])["server_groups"] == [group["id"]]
    bad = env.call(
        "POST",
        "/servers",
        version="2.79",
        json={
            "server": {
                "name": "x",
                "imageRef": env.images["cirros"],
                "flavorRef": "1",
                "networks": "none",
            },
            "os:scheduler_hints": {"group": "nope"},
        },
    )
    assert bad.status_code == 400


def test_delete_while_building(env: Env) -> None:
    env.driver.boot_delay = 0.3
    server = env.boot(wait=None)
    env.wait_until_host(server["id"])
    assert env.call("DELETE", f"/servers/{server['id']}").status_code == 204
    env.wait_gone(server["id"])
    for host in env.driver.hosts():
        assert server["id"] not in env.driver.list_instances(host) or _eventually_gone(
            env, host, server["id"]
        )
    stats = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert stats["memory_mb_used"] == 0


def _eventually_gone(env: Env, host: str, server_id: str) -> bool:
    import time

    deadline = time.monotonic() + 5
    while server_id in env.driver.list_instances(host):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return True


def test_concurrent_boots_keep_anti_affinity(env: Env) -> None:
    group = env.ok(
        "POST",
        "/os-server-groups",
        json={"server_group": {"name": "g", "policies": ["anti-affinity"]}},
    )["server_group"]
    body = {
        "name": "racer",
        "imageRef": env.images["cirros"],
        "flavorRef": "42",
        "networks": "none",
    }
    request = {"server": body, "os:scheduler_hints": {"group": group["id"]}}

    def create(_: int) -> str:
        response = env.call("POST", "/servers", json=request, version="2.79")
        assert response.status_code == 202, response.text
        return response.json()["server"]["id"]

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(create, range(6)))
    final = {}
    for server_id in ids:
        deadline = time.monotonic() + 10
        while (server := env.show(server_id, "admin"))["status"] not in ("ACTIVE", "ERROR"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        final[server_id] = server
    active = [s["OS-EXT-SRV-ATTR:host"] for s in final.values() if s["status"] == "ACTIVE"]
    assert sorted(active) == ["node-0", "node-1"]
