"""Lifecycle actions: valid transitions, 409s from the wrong state, locks, resize,
rebuild, snapshots, console output, metadata, tags and the recorded actions."""

from __future__ import annotations

from typing import Any

from stratus.compute.models import ComputeNode
from tests.api.compute.conftest import Env


def _act(env: Env, server_id: str, body: dict[str, Any], status: int = 202, **kw: Any) -> Any:
    response = env.action(server_id, body, **kw)
    assert response.status_code == status, response.text
    return response


def _memory_used(env: Env) -> int:
    stats = env.ok("GET", "/os-hypervisors/statistics", "admin")["hypervisor_statistics"]
    return stats["memory_mb_used"]


def test_power_cycle(env: Env) -> None:
    server_id = env.boot()["id"]
    _act(env, server_id, {"os-start": None}, 409)
    _act(env, server_id, {"os-stop": None})
    stopped = env.wait(server_id, "SHUTOFF")
    assert stopped["OS-EXT-STS:power_state"] == 4 and stopped["OS-EXT-STS:vm_state"] == "stopped"
    conflict = env.action(server_id, {"os-stop": None})
    assert conflict.status_code == 409 and "conflictingRequest" in conflict.json()
    _act(env, server_id, {"reboot": {"type": "SOFT"}}, 409)
    _act(env, server_id, {"pause": None}, 409)
    _act(env, server_id, {"os-start": None})
    env.wait(server_id, "ACTIVE")
    _act(env, server_id, {"reboot": {"type": "SOFT"}})
    env.wait(server_id, "ACTIVE")
    _act(env, server_id, {"reboot": {"type": "HARD"}})
    env.wait(server_id, "ACTIVE")
    _act(env, server_id, {"reboot": {"type": "sideways"}}, 400)
    _act(env, server_id, {"pause": None})
    assert env.wait(server_id, "PAUSED")["OS-EXT-STS:power_state"] == 3
    _act(env, server_id, {"suspend": None}, 409)
    _act(env, server_id, {"unpause": None})
    env.wait(server_id, "ACTIVE")
    _act(env, server_id, {"suspend": None})
    assert env.wait(server_id, "SUSPENDED")["OS-EXT-STS:power_state"] == 7
    _act(env, server_id, {"resume": None})
    env.wait(server_id, "ACTIVE")
    actions = env.ok("GET", f"/servers/{server_id}/os-instance-actions")["instanceActions"]
    assert [a["action"] for a in actions] == [
        "resume",
        "suspend",
        "unpause",
        "pause",
        "reboot",
        "reboot",
        "start",
        "stop",
        "create",
    ]
    stop = f"/servers/{server_id}/os-instance-actions/{actions[-2]['request_id']}"
    detail = env.ok("GET", stop, version="2.51")["instanceAction"]
    events = [(e["event"], e["result"]) for e in detail["events"]]
    assert events == [("compute_stop_instance", "Success")]
    assert "traceback" not in detail["events"][0]
    assert "events" not in env.ok("GET", stop)["instanceAction"]
    missing = env.call("GET", f"/servers/{server_id}/os-instance-actions/req-nope")
    assert missing.status_code == 404


def test_bad_actions(env: Env) -> None:
    server_id = env.boot()["id"]
    _act(env, server_id, {"fly": None}, 400)
    _act(env, server_id, {"os-stop": None, "os-start": None}, 400)
    _act(env, server_id, {"resize": {}}, 400)
    _act(env, server_id, {"resize": {"flavorRef": "1"}}, 400)  # the same flavor
    _act(env, server_id, {"resize": {"flavorRef": "nope"}}, 400)
    response = env.call(
        "POST",
        f"/servers/{server_id}/action",
        content=b"nope",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_lock(env: Env) -> None:
    server_id = env.boot()["id"]
    _act(env, server_id, {"lock": {"locked_reason": "audit"}}, version="2.73")
    shown = env.show(server_id)
    assert shown["locked"] is True and shown["locked_reason"] == "audit"
    locked = env.action(server_id, {"os-stop": None})
    assert locked.status_code == 409 and "locked" in locked.text
    assert env.call("DELETE", f"/servers/{server_id}").status_code == 409
    metadata = {"metadata": {"a": "b"}}
    assert env.call("POST", f"/servers/{server_id}/metadata", json=metadata).status_code == 409
    _act(env, server_id, {"os-stop": None}, user="admin")  # administrators may
    env.wait(server_id, "SHUTOFF")
    _act(env, server_id, {"lock": {"locked_reason": "x"}}, 400)  # a reason needs 2.73
    _act(env, server_id, {"unlock": None})
    assert env.show(server_id)["locked"] is False
    _act(env, server_id, {"lock": None}, user="admin")
    _act(env, server_id, {"unlock": None}, 403)
    _act(env, server_id, {"unlock": None}, user="admin")
    unlocked = env.ok("GET", "/servers", params={"locked": "false"}, version="2.73")["servers"]
    assert [s["id"] for s in unlocked] == [server_id]


def test_resize_confirm_and_revert(env: Env) -> None:
    server_id = env.boot()["id"]
    _act(env, server_id, {"confirmResize": None}, 409)
    _act(env, server_id, {"resize": {"flavorRef": "2"}})
    resized = env.wait(server_id, "VERIFY_RESIZE")
    assert resized["flavor"]["original_name"] == "m1.small"
    assert _memory_used(env) == 512 + 2048  # both flavors held until confirmed
    assert env.ok("GET", "/limits")["limits"]["absolute"]["totalRAMUsed"] == 2048
    _act(env, server_id, {"os-stop": None}, 409)
    _act(env, server_id, {"confirmResize": None}, 204)
    env.wait(server_id, "ACTIVE")
    assert _memory_used(env) == 2048
    _act(env, server_id, {"resize": {"flavorRef": "3"}})
    env.wait(server_id, "VERIFY_RESIZE")
    _act(env, server_id, {"revertResize": None})
    reverted = env.wait(server_id, "ACTIVE")
    assert reverted["flavor"]["original_name"] == "m1.small"
    assert _memory_used(env) == 2048
    host = env.show(server_id, "admin")["OS-EXT-SRV-ATTR:host"]
    assert server_id in env.driver.list_instances(host)


def test_resize_of_stopped_server_stays_stopped(env: Env) -> None:
    server_id = env.boot()["id"]
    _act(env, server_id, {"os-stop": None})
    env.wait(server_id, "SHUTOFF")
    _act(env, server_id, {"resize": {"flavorRef": "2"}})
    env.wait(server_id, "VERIFY_RESIZE")
    _act(env, server_id, {"confirmResize": None}, 204)
    assert env.wait(server_id, "SHUTOFF")["OS-EXT-STS:power_state"] == 4


def test_resize_without_room_keeps_the_server(env: Env) -> None:
    server_id = env.boot()["id"]
    body = {"flavor": {"name": "huge", "ram": 40000, "vcpus": 1, "disk": 1, "id": "huge"}}
    env.ok("POST", "/flavors", "admin", json=body)
    _act(env, server_id, {"resize": {"flavorRef": "huge"}})
    server = env.wait(server_id, "ACTIVE")
    assert server["flavor"]["original_name"] == "m1.tiny"
    assert _memory_used(env) == 512


def test_rebuild(env: Env) -> None:
    server_id = env.boot()["id"]
    image = env.images["private"]
    rebuild = {"rebuild": {"imageRef": image, "name": "again", "metadata": {"x": "1"}}}
    body = _act(env, server_id, rebuild).json()["server"]
    assert body["image"]["id"] == image and body["name"] == "again" and "adminPass" in body
    server = env.wait(server_id, "ACTIVE")
    assert server["image"]["id"] == image and server["metadata"] == {"x": "1"}
    _act(env, server_id, {"rebuild": {"imageRef": env.images["other"]}}, 400)
    _act(env, server_id, {"rebuild": {"imageRef": image, "key_name": "no"}}, 400, version="2.54")
    _act(env, server_id, {"rebuild": {"imageRef": image, "key_name": "x"}}, 400)
    new = _act(env, server_id, {"rebuild": {"imageRef": image}}, version="2.75").json()
    assert new["server"]["OS-EXT-STS:task_state"] == "rebuilding"
    env.wait(server_id, "ACTIVE")


def test_create_image(env: Env) -> None:
    raw = env.cloud.create_image("demo", name="raw", disk_format="raw")
    server_id = env.boot(imageRef=raw)["id"]
    old = _act(env, server_id, {"createImage": {"name": "snap", "metadata": {"k": "v"}}})
    assert "/images/" in old.headers["location"]
    env.wait(server_id, "ACTIVE")
    new = _act(env, server_id, {"createImage": {"name": "snap2"}}, version="2.45")
    image_id = new.json()["image_id"]
    env.wait(server_id, "ACTIVE")
    headers = {"X-Auth-Token": env.users["demo"].token}
    image = env.cloud.image.get(f"/v2/images/{image_id}", headers=headers).json()
    assert image["status"] == "active" and image["instance_uuid"] == server_id
    assert image["owner"] == env.users["demo"].project_id and image["image_type"] == "snapshot"
    # A snapshot is the driver's qcow2, whatever the format of the image it started from.
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "bare")
    assert image["visibility"] == "private"
    _act(env, server_id, {"createImage": {}}, 400)


def test_console_output(env: Env) -> None:
    server_id = env.boot()["id"]
    output = _act(env, server_id, {"os-getConsoleOutput": {"length": 5}}, 200).json()["output"]
    assert "login:" in output
    empty = _act(env, server_id, {"os-getConsoleOutput": {"length": 0}}, 200)
    assert empty.json()["output"] == ""
    _act(env, server_id, {"os-getConsoleOutput": {"length": "x"}}, 400)
    _act(env, server_id, {"os-getConsoleOutput": {}}, 200)


def test_force_delete(env: Env) -> None:
    server_id = env.boot()["id"]
    _act(env, server_id, {"forceDelete": None})
    env.wait_gone(server_id)


def test_metadata(env: Env) -> None:
    server_id = env.boot(metadata={"a": "1"})["id"]
    base = f"/servers/{server_id}/metadata"
    assert env.ok("GET", base) == {"metadata": {"a": "1"}}
    merged = env.ok("POST", base, json={"metadata": {"b": "2"}})
    assert merged == {"metadata": {"a": "1", "b": "2"}}
    assert env.ok("PUT", base, json={"metadata": {"c": "3"}}) == {"metadata": {"c": "3"}}
    assert env.ok("PUT", f"{base}/d", json={"meta": {"d": "4"}}) == {"meta": {"d": "4"}}
    assert env.call("PUT", f"{base}/d", json={"meta": {"e": "4"}}).status_code == 400
    assert env.ok("GET", f"{base}/d") == {"meta": {"d": "4"}}
    assert env.call("DELETE", f"{base}/d").status_code == 204
    assert env.call("GET", f"{base}/d").status_code == 404
    assert env.call("DELETE", f"{base}/d").status_code == 404
    assert env.call("POST", base, json={"metadata": {"k": "x" * 256}}).status_code == 400
    too_many = {str(i): "v" for i in range(129)}
    assert env.call("PUT", base, json={"metadata": too_many}).status_code == 403
    assert env.call("GET", base, "other").status_code == 404


def test_tags(env: Env) -> None:
    server_id = env.boot()["id"]
    base = f"/servers/{server_id}/tags"
    assert env.call("GET", base).status_code == 404  # tags need 2.26

    def tags(method: str, path: str = "", **kw: Any) -> Any:
        return env.call(method, base + path, version="2.26", **kw)

    assert tags("PUT", json={"tags": ["x", "y"]}).json() == {"tags": ["x", "y"]}
    assert tags("PUT", "/z").status_code == 201 and tags("PUT", "/z").status_code == 204
    assert tags("GET", "/z").status_code == 204 and tags("GET", "/nope").status_code == 404
    assert tags("GET").json() == {"tags": ["x", "y", "z"]}
    assert tags("DELETE", "/x").status_code == 204 and tags("DELETE", "/x").status_code == 404
    assert tags("PUT", json={"tags": ["a/b"]}).status_code == 400
    assert tags("PUT", json={"tags": [str(i) for i in range(51)]}).status_code == 400
    assert tags("DELETE").status_code == 204 and tags("GET").json() == {"tags": []}


def test_instance_action_paging(env: Env) -> None:
    server_id = env.boot()["id"]
    for body, status in (({"os-stop": None}, "SHUTOFF"), ({"os-start": None}, "ACTIVE")):
        _act(env, server_id, body)
        env.wait(server_id, status)
    path = f"/servers/{server_id}/os-instance-actions"
    page = env.ok("GET", path, params={"limit": 2}, version="2.58")
    assert [a["action"] for a in page["instanceActions"]] == ["start", "stop"]
    assert "updated_at" in page["instanceActions"][0]
    marker = page["instanceActions"][-1]["request_id"]
    rest = env.ok("GET", path, params={"marker": marker}, version="2.58")
    assert [a["action"] for a in rest["instanceActions"]] == ["create"]


def test_hard_reboot_repairs_a_lost_domain(env: Env) -> None:
    server_id = env.boot()["id"]
    host = env.show(server_id, "admin")["OS-EXT-SRV-ATTR:host"]
    env.driver.destroy({"uuid": server_id, "host": host})
    env.agent.sync_power_states()
    assert env.wait(server_id, "SHUTOFF")["OS-EXT-STS:power_state"] == 0
    _act(env, server_id, {"os-start": None})  # nothing to start: the fault says so
    assert env.wait(server_id, "SHUTOFF")["OS-EXT-STS:power_state"] == 0
    _act(env, server_id, {"reboot": {"type": "HARD"}})
    assert env.wait(server_id, "ACTIVE")["OS-EXT-STS:power_state"] == 1
    assert server_id in env.driver.list_instances(host)


def test_resize_stays_home_when_the_driver_cannot_move_disks(env: Env) -> None:
    server_id = env.boot()["id"]
    host = env.show(server_id, "admin")["OS-EXT-SRV-ATTR:host"]
    with env.backend.db.session() as session:
        for node in session.query(ComputeNode):
            node.capabilities = {**node.capabilities, "resize_across_hosts": False}
            if node.host == host:  # the other host looks far better to the weighers
                node.memory_mb_used = 7000
    _act(env, server_id, {"resize": {"flavorRef": "2"}})
    assert (
        env.wait(server_id, "VERIFY_RESIZE")
        and env.show(server_id, "admin")["OS-EXT-SRV-ATTR:host"] == host
    )
