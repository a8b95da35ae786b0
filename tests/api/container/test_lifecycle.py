"""Containers from run to delete, through every action, as the agent reports them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Env


def test_run_records_creating_then_running(env: Env) -> None:
    env.image()
    container = env.run(name="c1", memory="64M", cpu=0.5, environment={"A": "1"})
    assert container["name"] == "c1"
    assert container["status"] in ("Creating", "Running")
    assert container["memory"] == "64" and container["cpu"] == 0.5
    assert container["command"] == ["sleep", "60"]
    assert container["image_driver"] == "glance"
    assert "host" not in container
    running = env.wait_status("c1", "Running")
    assert running["uuid"] == container["uuid"]
    assert env.driver.containers[container["uuid"]]["spec"]["environment"] == {"A": "1"}
    assert env.show(container["uuid"], "admin")["host"] == "node1"


def test_create_without_run_is_created(env: Env) -> None:
    env.image()
    container = env.run(run=False)
    env.wait_status(container["uuid"], "Created")
    assert env.call("POST", f"/v1/containers/{container['uuid']}/start").status_code == 202
    env.wait_status(container["uuid"], "Running")


def test_a_lost_run_is_made_and_started_by_reconciliation(env: Env, monkeypatch) -> None:
    """The agent never heard of a run (its message was lost): its next pass makes the
    container and starts it, as asked; a second create of a made one only starts it."""
    env.image()
    monkeypatch.setattr(env.agent, "create", lambda container, start: None)
    uuid = env.run()["uuid"]
    assert env.show(uuid)["status"] == "Creating" and uuid not in env.driver.containers
    monkeypatch.undo()
    env.agent.reconcile()
    env.wait_status(uuid, "Running")

    made = env.run(run=False)
    env.wait_status(made["uuid"], "Created")
    spec = env.driver.containers[made["uuid"]]["spec"]
    env.agent.create(spec, start=True)  # the API's run meeting a reconciliation's create
    env.wait_status(made["uuid"], "Running")


def test_actions_move_through_the_states(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    for action, status in (
        ("pause", "Paused"),
        ("unpause", "Running"),
        ("stop?timeout=1", "Stopped"),
        ("start", "Running"),
        ("reboot?timeout=1", "Running"),
        ("kill?signal=SIGKILL", "Stopped"),
    ):
        response = env.call("POST", f"/v1/containers/{uuid}/{action}")
        assert response.status_code == 202, (action, response.text)
        env.wait_status(uuid, status)
    assert env.show(uuid)["status_detail"] == "Exited (137)"


def test_actions_in_the_wrong_state_are_409(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    for action in ("start", "unpause"):
        response = env.call("POST", f"/v1/containers/{uuid}/{action}")
        assert response.status_code == 409, action
        assert "Running" in response.json()["errors"][0]["detail"]
    assert env.call("DELETE", f"/v1/containers/{uuid}").status_code == 409
    env.call("POST", f"/v1/containers/{uuid}/stop")
    env.wait_status(uuid, "Stopped")
    assert env.call("POST", f"/v1/containers/{uuid}/pause").status_code == 409
    assert env.call("GET", f"/v1/containers/{uuid}/top").status_code == 409


def test_delete_stop_and_force(env: Env) -> None:
    env.image()
    first, second = env.run()["uuid"], env.run()["uuid"]
    env.wait_status(first, "Running")
    env.wait_status(second, "Running")
    assert env.call("DELETE", f"/v1/containers/{first}?stop=True").status_code == 204
    assert env.call("DELETE", f"/v1/containers/{second}?force=True").status_code == 204
    env.gone(first)
    env.gone(second)
    assert env.driver.containers == {}


def test_list_is_per_project_and_all_projects_is_for_admins(env: Env) -> None:
    env.image()
    mine = env.run(name="mine")["uuid"]
    theirs = env.run("other", name="theirs")["uuid"]
    listed = env.call("GET", "/v1/containers").json()["containers"]
    assert [c["uuid"] for c in listed] == [mine]
    assert env.call("GET", f"/v1/containers/{theirs}").status_code == 404
    assert env.call("GET", "/v1/containers?all_projects=True").status_code == 403
    everything = env.call("GET", "/v1/containers?all_projects=True", "admin").json()
    assert {c["uuid"] for c in everything["containers"]} == {mine, theirs}


def test_list_pages_with_next(env: Env) -> None:
    env.image()
    uuids = [env.run(name=f"c{i}")["uuid"] for i in range(3)]
    first = env.call("GET", "/v1/containers?limit=2").json()
    assert [c["uuid"] for c in first["containers"]] == uuids[:2]
    rest = env.call("GET", first["next"].removeprefix("http://127.0.0.1:9517")).json()
    assert [c["uuid"] for c in rest["containers"]] == uuids[2:]


def test_logs_top_stats(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    logs = env.call("GET", f"/v1/containers/{uuid}/logs?stdout=True&stderr=True")
    assert logs.status_code == 200 and logs.json() == f"logs of {uuid}\n"
    top = env.call("GET", f"/v1/containers/{uuid}/top").json()
    assert top["Processes"] == [["1", "sleep 60"]]
    stats = env.call("GET", f"/v1/containers/{uuid}/stats").json()
    assert stats["MEM LIMIT(MiB)"] == 512.0


def test_update_and_rename(env: Env) -> None:
    env.image()
    uuid = env.run(name="old")["uuid"]
    env.wait_status(uuid, "Running")
    updated = env.call("PATCH", f"/v1/containers/{uuid}", json={"memory": "128", "cpu": 2})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["memory"], updated.json()["cpu"]) == ("128", 2.0)
    env.wait_status(uuid, "Running")
    assert env.driver.containers[uuid]["spec"]["memory"] == 128
    renamed = env.call("POST", f"/v1/containers/{uuid}/rename?name=new")
    assert renamed.status_code == 200 and renamed.json()["name"] == "new"
    assert env.show("new")["uuid"] == uuid


def test_command_is_a_string_before_1_20(env: Env) -> None:
    env.image()
    body = {"image": "busybox", "command": "sh -c 'echo hi'"}
    response = env.call("POST", "/v1/containers", version="1.19", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["command"] == "sh -c 'echo hi'"
    assert env.show(response.json()["uuid"])["command"] == ["sh", "-c", "echo hi"]


def test_reader_may_look_but_not_act(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    assert env.call("GET", f"/v1/containers/{uuid}", "reader").status_code == 200
    assert env.call("POST", f"/v1/containers/{uuid}/stop", "reader").status_code == 403
    body = {"image": "busybox"}
    assert env.call("POST", "/v1/containers", "reader", json=body).status_code == 403


def test_engine_down_shows_error_with_reason_and_recovers(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    env.driver.down = "Docker is not answering"
    env.agent.reconcile()
    error = env.wait_status(uuid, "Error")
    assert error["status_reason"] == "Docker is not answering"
    env.driver.down = None
    env.agent.reconcile()
    assert env.wait_status(uuid, "Running")["status_reason"] is None


def test_a_container_made_while_the_engine_is_read_is_not_reported_gone(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reconciliation reads the engine, then the records: a create that finished in
    between (many at once) shows a record the engine's list did not have yet."""
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    monkeypatch.setattr(env.driver, "states", lambda: {})  # read before the create
    env.agent.reconcile()
    shown = env.show(uuid)
    assert (shown["status"], shown["status_reason"]) == ("Running", None)


def test_images_no_container_used_for_their_age_are_let_go(env: Env) -> None:
    image_id = env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    env.agent.image_max_age = 3600
    env.agent.forget_unused_images()
    assert env.driver.images == {image_id}  # its container uses it
    assert env.call("DELETE", f"/v1/containers/{uuid}?force=True").status_code == 204
    env.gone(uuid)
    env.agent.forget_unused_images()
    assert env.driver.images == {image_id}  # a create used it a moment ago
    env.agent.image_max_age = 1e-9
    env.agent.forget_unused_images()
    assert env.driver.images == set()


def test_reconcile_removes_orphans_and_finishes_deletes(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    env.driver.containers["orphan"] = {"spec": {}, "status": "Running"}
    env.driver.down = "restarting"
    assert env.call("DELETE", f"/v1/containers/{uuid}?force=True").status_code == 204
    env.driver.down = None
    env.agent.reconcile()
    env.gone(uuid)
    assert env.driver.containers == {}


def test_auto_remove_deletes_a_container_that_exits(env: Env) -> None:
    env.image()
    uuid = env.run(auto_remove=True)["uuid"]
    env.wait_status(uuid, "Running")
    env.driver.kill(uuid, "SIGKILL")  # it exits on its own, behind the API's back
    env.agent.reconcile()
    env.gone(uuid)
    assert env.driver.containers == {}


def test_a_failed_create_keeps_its_reason(env: Env) -> None:
    env.image()
    env.driver.down = "Docker is not answering"
    uuid = env.run()["uuid"]
    assert env.wait_status(uuid, "Error")["status_reason"] == "Docker is not answering"
    env.driver.down = None
    env.agent.reconcile()
    env.wait_for_host(lambda host: host["driver_status"] is None)
    assert env.show(uuid)["status_reason"] == "Docker is not answering"
    assert env.call("DELETE", f"/v1/containers/{uuid}").status_code == 204
    env.gone(uuid)
