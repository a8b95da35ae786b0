"""Services, hypervisors, aggregates, availability zones and quotas."""

from __future__ import annotations

from tests.api.compute.conftest import Env


def test_services_list_and_disable(env: Env) -> None:
    services = env.ok("GET", "/os-services", "admin")["services"]
    by_binary = {(s["host"], s["binary"]): s for s in services}
    assert {
        ("node-0", "nova-compute"),
        ("node-1", "nova-compute"),
        ("node", "nova-scheduler"),
        ("node", "nova-conductor"),
    } <= set(by_binary)
    compute = by_binary[("node-0", "nova-compute")]
    assert compute["state"] == "up" and compute["status"] == "enabled" and compute["zone"] == "nova"
    assert by_binary[("node", "nova-conductor")]["zone"] == "internal"
    assert isinstance(compute["id"], int) and "forced_down" not in compute
    assert env.call("GET", "/os-services").status_code == 403
    body = {"host": "node-0", "binary": "nova-compute", "disabled_reason": "maintenance"}
    disabled = env.ok("PUT", "/os-services/disable-log-reason", "admin", json=body)["service"]
    assert disabled == {**body, "status": "disabled"}
    down = env.ok(
        "PUT",
        "/os-services/force-down",
        "admin",
        json={"host": "node-0", "binary": "nova-compute", "forced_down": True},
        version="2.11",
    )
    assert down["service"]["forced_down"] is True
    new = {
        s["host"]: s
        for s in env.ok(
            "GET", "/os-services", "admin", params={"binary": "nova-compute"}, version="2.53"
        )["services"]
    }
    assert new["node-0"]["state"] == "down" and new["node-0"]["disabled_reason"] == "maintenance"
    uuid = new["node-0"]["id"]
    updated = env.ok(
        "PUT",
        f"/os-services/{uuid}",
        "admin",
        json={"status": "enabled", "forced_down": False},
        version="2.53",
    )["service"]
    assert (updated["status"], updated["state"], updated["forced_down"]) == ("enabled", "up", False)
    bad = env.call(
        "PUT", f"/os-services/{uuid}", "admin", json={"disabled_reason": "x"}, version="2.53"
    )
    assert bad.status_code == 400
    missing = env.call(
        "PUT", "/os-services/disable", "admin", json={"host": "nope", "binary": "nova-compute"}
    )
    assert missing.status_code == 404


def test_delete_service(env: Env) -> None:
    server = env.boot()
    services = env.ok("GET", "/os-services", "admin", version="2.53")["services"]
    host = env.show(server["id"], "admin")["OS-EXT-SRV-ATTR:host"]
    busy = next(s for s in services if s["host"] == host and s["binary"] == "nova-compute")
    idle = next(s for s in services if s["host"] != host and s["binary"] == "nova-compute")
    assert (
        env.call("DELETE", f"/os-services/{busy['id']}", "admin", version="2.53").status_code == 409
    )
    assert env.call("DELETE", "/os-services/not-a-uuid", "admin", version="2.53").status_code == 400
    assert (
        env.call("DELETE", f"/os-services/{idle['id']}", "admin", version="2.53").status_code == 204
    )
    hypervisors = env.ok("GET", "/os-hypervisors", "admin")["hypervisors"]
    assert idle["host"] not in {h["hypervisor_hostname"] for h in hypervisors}


def test_hypervisors(env: Env) -> None:
    listed = env.ok("GET", "/os-hypervisors", "admin")["hypervisors"]
    assert {h["hypervisor_hostname"] for h in listed} == {"node-0", "node-1"}
    assert all(isinstance(h["id"], int) and h["state"] == "up" for h in listed)
    detail = env.ok("GET", f"/os-hypervisors/{listed[0]['id']}", "admin")["hypervisor"]
    assert detail["vcpus"] == 8 and detail["memory_mb"] == 8192 and detail["local_gb"] == 200
    assert isinstance(detail["cpu_info"], str)
    assert (
        env.ok("GET", f"/os-hypervisors/{listed[0]['id']}", "admin", version="2.28")["hypervisor"][
            "cpu_info"
        ]["arch"]
        == "x86_64"
    )
    server = env.boot(flavorRef="2")
    host = env.show(server["id"], "admin")["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    new = env.ok(
        "GET",
        "/os-hypervisors/detail",
        "admin",
        version="2.53",
        params={"with_servers": "true", "hypervisor_hostname_pattern": host},
    )["hypervisors"]
    assert len(new) == 1 and new[0]["memory_mb_used"] == 2048 and new[0]["vcpus_used"] == 1
    assert new[0]["servers"] == [{"name": f"instance-{server['id']}", "uuid": server["id"]}]
    assert (
        env.call("GET", f"/os-hypervisors/{listed[0]['id']}", "admin", version="2.53").status_code
        == 400
    )
    shown = env.ok("GET", f"/os-hypervisors/{new[0]['id']}", "admin", version="2.53")["hypervisor"]
    assert shown["hypervisor_hostname"] == host
    page = env.ok("GET", "/os-hypervisors", "admin", params={"limit": 1}, version="2.53")
    assert len(page["hypervisors"]) == 1 and "hypervisors_links" in page
    uptime = env.ok("GET", f"/os-hypervisors/{listed[0]['id']}/uptime", "admin")["hypervisor"]
    assert " up " in uptime["uptime"] and "load average:" in uptime["uptime"]
    stats = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    assert stats["count"] == 2 and stats["memory_mb_used"] == 2048 and stats["running_vms"] == 1
    assert env.call("GET", "/os-hypervisors", "demo").status_code == 403
    search = env.ok("GET", "/os-hypervisors/node/search", "admin")["hypervisors"]
    assert len(search) == 2
    assert env.call("GET", "/os-hypervisors/zzz/search", "admin").status_code == 404
    unknown = env.call("GET", "/os-hypervisors", "admin", params={"foo": 1}, version="2.75")
    assert unknown.status_code == 400


def test_aggregates_and_zones(env: Env) -> None:
    created = env.ok(
        "POST",
        "/os-aggregates",
        "admin",
        json={"aggregate": {"name": "rack1", "availability_zone": "az1"}},
    )["aggregate"]
    assert created["availability_zone"] == "az1" and "uuid" not in created
    agg = created["id"]
    assert (
        env.call(
            "POST", "/os-aggregates", "admin", json={"aggregate": {"name": "rack1"}}
        ).status_code
        == 409
    )
    added = env.ok(
        "POST",
        f"/os-aggregates/{agg}/action",
        "admin",
        json={"add_host": {"host": "node-1"}},
        version="2.41",
    )["aggregate"]
    assert added["hosts"] == ["node-1"] and added["uuid"]
    assert (
        env.call(
            "POST", f"/os-aggregates/{agg}/action", "admin", json={"add_host": {"host": "node-1"}}
        ).status_code
        == 409
    )
    assert (
        env.call(
            "POST", f"/os-aggregates/{agg}/action", "admin", json={"add_host": {"host": "ghost"}}
        ).status_code
        == 404
    )
    meta = env.ok(
        "POST",
        f"/os-aggregates/{agg}/action",
        "admin",
        json={"set_metadata": {"metadata": {"ssd": "true", "x": None}}},
    )["aggregate"]
    assert meta["metadata"] == {"availability_zone": "az1", "ssd": "true"}
    other = env.ok(
        "POST",
        "/os-aggregates",
        "admin",
        json={"aggregate": {"name": "rack2", "availability_zone": "az2"}},
    )
    clash = env.call(
        "POST",
        f"/os-aggregates/{other['aggregate']['id']}/action",
        "admin",
        json={"add_host": {"host": "node-1"}},
    )
    assert clash.status_code == 409
    zones = env.ok("GET", "/os-availability-zone")["availabilityZoneInfo"]
    assert {z["zoneName"]: z["zoneState"]["available"] for z in zones} == {
        "az1": True,
        "nova": True,
    }
    detail = env.ok("GET", "/os-availability-zone/detail", "admin")["availabilityZoneInfo"]
    by_name = {z["zoneName"]: z for z in detail}
    assert "nova-compute" in by_name["az1"]["hosts"]["node-1"]
    assert "nova-conductor" in by_name["internal"]["hosts"]["node"]
    assert env.call("GET", "/os-availability-zone/detail").status_code == 403
    # A server asked into az1 lands on node-1.
    server = env.boot(availability_zone="az1")
    shown = env.show(server["id"], "admin")
    assert (
        shown["OS-EXT-SRV-ATTR:host"] == "node-1" and shown["OS-EXT-AZ:availability_zone"] == "az1"
    )
    renamed = env.ok(
        "PUT", f"/os-aggregates/{agg}", "admin", json={"aggregate": {"name": "rack-one"}}
    )
    assert renamed["aggregate"]["name"] == "rack-one"
    assert env.call("DELETE", f"/os-aggregates/{agg}", "admin").status_code == 400
    env.ok(
        "POST", f"/os-aggregates/{agg}/action", "admin", json={"remove_host": {"host": "node-1"}}
    )
    assert env.call("DELETE", f"/os-aggregates/{agg}", "admin").status_code == 200
    assert env.call("GET", f"/os-aggregates/{agg}", "admin").status_code == 404
    assert env.call("GET", "/os-aggregates", "demo").status_code == 403


def test_quotas_and_limits(env: Env) -> None:
    demo = env.users["demo"].project_id
    quota = env.ok("GET", f"/os-quota-sets/{demo}")["quota_set"]
    assert quota["instances"] == 10 and quota["cores"] == 20 and quota["floating_ips"] == 10
    assert quota["injected_file_path_bytes"] == 255
    new = env.ok("GET", f"/os-quota-sets/{demo}", version="2.57")["quota_set"]
    assert "floating_ips" not in new and "injected_files" not in new
    assert env.call("GET", f"/os-quota-sets/{demo}", "other").status_code == 403
    assert (
        env.call("PUT", f"/os-quota-sets/{demo}", json={"quota_set": {"cores": 5}}).status_code
        == 403
    )
    env.boot(flavorRef="3")  # 2 vCPUs, 4096 MB
    updated = env.ok("PUT", f"/os-quota-sets/{demo}", "admin", json={"quota_set": {"cores": 5}})
    assert updated["quota_set"]["cores"] == 5
    below = env.call("PUT", f"/os-quota-sets/{demo}", "admin", json={"quota_set": {"cores": 1}})
    assert below.status_code == 400
    forced = env.ok(
        "PUT", f"/os-quota-sets/{demo}", "admin", json={"quota_set": {"cores": 1, "force": True}}
    )
    assert forced["quota_set"]["cores"] == 1
    detail = env.ok("GET", f"/os-quota-sets/{demo}/detail")["quota_set"]
    assert detail["cores"] == {"limit": 1, "in_use": 2, "reserved": 0}
    limits = env.ok("GET", "/limits", version="2.57")["limits"]["absolute"]
    assert (limits["maxTotalCores"], limits["totalCoresUsed"], limits["totalRAMUsed"]) == (
        1,
        2,
        4096,
    )
    assert "maxPersonality" not in limits and "maxImageMeta" not in limits
    old = env.ok("GET", "/limits")["limits"]["absolute"]
    assert old["maxImageMeta"] == 128 and old["maxTotalFloatingIps"] == 10
    assert env.call("GET", "/limits", params={"tenant_id": demo}, user="other").status_code == 403
    assert (
        env.ok("GET", "/limits", "admin", params={"tenant_id": demo})["limits"]["absolute"][
            "totalInstancesUsed"
        ]
        == 1
    )
    assert env.call("DELETE", f"/os-quota-sets/{demo}", "admin").status_code == 202
    assert env.ok("GET", f"/os-quota-sets/{demo}")["quota_set"]["cores"] == 20
    defaults = env.ok("GET", f"/os-quota-sets/{demo}/defaults")["quota_set"]
    assert defaults["ram"] == 51200


def test_server_groups(env: Env) -> None:
    old = env.ok(
        "POST", "/os-server-groups", json={"server_group": {"name": "g", "policies": ["affinity"]}}
    )
    group = old["server_group"]
    assert (
        group["policies"] == ["affinity"] and group["metadata"] == {} and "project_id" not in group
    )
    assert (
        env.call(
            "POST",
            "/os-server-groups",
            json={"server_group": {"name": "s", "policies": ["soft-affinity"]}},
        ).status_code
        == 400
    )
    soft = env.ok(
        "POST",
        "/os-server-groups",
        json={"server_group": {"name": "s", "policies": ["soft-affinity"]}},
        version="2.15",
    )
    assert soft["server_group"]["project_id"] == env.users["demo"].project_id
    rules = {
        "server_group": {
            "name": "r",
            "policy": "anti-affinity",
            "rules": {"max_server_per_host": 2},
        }
    }
    new = env.ok("POST", "/os-server-groups", json=rules, version="2.64")["server_group"]
    assert new["policy"] == "anti-affinity" and new["rules"] == {"max_server_per_host": 2}
    assert "policies" not in new
    bad = [
        {"server_group": {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}},
        {
            "server_group": {
                "name": "x",
                "policy": "anti-affinity",
                "rules": {"max_server_per_host": 0},
            }
        },
        {"server_group": {"name": "x", "policies": ["affinity"]}},
        {"server_group": {"name": "x", "policy": "nonsense"}},
    ]
    for body in bad:
        assert (
            env.call("POST", "/os-server-groups", json=body, version="2.64").status_code == 400
        ), body
    assert len(env.ok("GET", "/os-server-groups")["server_groups"]) == 3
    assert env.ok("GET", "/os-server-groups", "other")["server_groups"] == []
    assert env.call("GET", f"/os-server-groups/{group['id']}", "other").status_code == 404
    everyone = env.ok("GET", "/os-server-groups", "admin", params={"all_projects": "true"})
    assert len(everyone["server_groups"]) == 3
    server = env.boot(hints={"group": group["id"]})
    members = env.ok("GET", f"/os-server-groups/{group['id']}")["server_group"]["members"]
    assert members == [server["id"]]
    assert env.call("DELETE", f"/os-server-groups/{group['id']}", "reader").status_code == 403
    assert env.call("DELETE", f"/os-server-groups/{group['id']}").status_code == 204
    assert env.call("GET", f"/os-server-groups/{group['id']}").status_code == 404
