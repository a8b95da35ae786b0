"""The actions history: each accepted request, with the agent's event and its result."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Env


def _actions(env: Env, uuid: str, user: str = "demo") -> list[dict]:
    response = env.call("GET", f"/v1/containers/{uuid}/container_actions", user)
    assert response.status_code == 200, response.text
    return response.json()["containerActions"]


def test_actions_are_recorded_with_their_events(env: Env) -> None:
    env.image()
    created = env.call("POST", "/v1/containers?run=true", json={"image": "busybox"})
    uuid = created.json()["uuid"]
    env.wait_status(uuid, "Running")
    stopped = env.call("POST", f"/v1/containers/{uuid}/stop?timeout=1")
    env.wait_status(uuid, "Stopped")
    history = _actions(env, uuid)
    assert [a["action"] for a in history] == ["stop", "create"]
    assert history[1]["request_id"] == created.headers["x-openstack-request-id"]
    assert history[0]["request_id"] == stopped.headers["x-openstack-request-id"]
    assert {a["project_id"] for a in history} == {env.users["demo"].project_id}
    detail = env.call("GET", f"/v1/containers/{uuid}/container_actions/{history[0]['request_id']}")
    assert detail.status_code == 200, detail.text
    [event] = detail.json()["events"]
    assert event["event"] == "container_agent_stop"
    assert event["result"] == "Success" and event["finish_time"] is not None


def test_a_failed_action_says_why(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    env.driver.down = "Docker Engine is unreachable"
    assert env.call("POST", f"/v1/containers/{uuid}/pause").status_code == 202
    env.wait(uuid, lambda c: c["task_state"] is None)
    pause = _actions(env, uuid)[0]
    assert (pause["action"], pause["message"]) == ("pause", "Docker Engine is unreachable")
    path = f"/v1/containers/{uuid}/container_actions/{pause['request_id']}"
    [event] = env.call("GET", path).json()["events"]
    assert (event["result"], event["traceback"]) == ("Error", "Docker Engine is unreachable")


def test_actions_of_unknown_containers_and_requests_are_404(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    assert env.call("GET", f"/v1/containers/{uuid}/container_actions/req-nope").status_code == 404
    assert env.call("GET", f"/v1/containers/{uuid}/container_actions", "other").status_code == 404
    assert len(_actions(env, uuid, "reader")) == 1
