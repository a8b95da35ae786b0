"""Execute a command in a container, and commit a container into the image service."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from conftest import Env


def _running(env: Env) -> str:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    return uuid


def test_execute_returns_output_and_exit_code(env: Env) -> None:
    uuid = _running(env)
    # python-zunclient sends each argument double-quoted, in the query
    command = quote('"echo" "hello world"')
    response = env.call("POST", f"/v1/containers/{uuid}/execute?run=True&command={command}")
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "hello world\n"
    assert response.json()["exit_code"] == 0
    body = env.call("POST", f"/v1/containers/{uuid}/execute", json={"command": "nosuch -x"})
    assert body.status_code == 200, body.text
    assert body.json()["exit_code"] == 127 and "nosuch" in body.json()["output"]


def test_execute_bad_input(env: Env) -> None:
    uuid = _running(env)
    assert env.call("POST", f"/v1/containers/{uuid}/execute").status_code == 400
    unbalanced = env.call("POST", f"/v1/containers/{uuid}/execute?command=%22echo")
    assert unbalanced.status_code == 400
    assert "Cannot split" in unbalanced.json()["errors"][0]["detail"]
    env.call("POST", f"/v1/containers/{uuid}/stop?timeout=1")
    env.wait_status(uuid, "Stopped")
    stopped = env.call("POST", f"/v1/containers/{uuid}/execute?command=echo")
    assert stopped.status_code == 409
    assert "Stopped" in stopped.json()["errors"][0]["detail"]
    other = env.call("POST", f"/v1/containers/{uuid}/execute?command=echo", "other")
    assert other.status_code == 404


def test_commit_makes_an_image_of_the_callers_project(env: Env) -> None:
    uuid = _running(env)
    response = env.call("POST", f"/v1/containers/{uuid}/commit?repository=snap&tag=v1")
    assert response.status_code == 202, response.text
    image_id = response.json()["uuid"]
    env.wait(uuid, lambda c: c["task_state"] is None)
    headers = env.users["demo"].headers
    image = env.images.get(f"/v2/images/{image_id}", headers=headers).json()
    assert image["status"] == "active", image
    assert (image["name"], image["tags"]) == ("snap", ["v1"])
    assert (image["container_format"], image["disk_format"]) == ("docker", "raw")
    assert image["owner"] == env.show(uuid)["project_id"]
    data = env.images.get(f"/v2/images/{image_id}/file", headers=headers).content
    assert data == f"image of {uuid} as snap:v1".encode()
    # and the committed image runs
    again = env.run(image="snap")
    env.wait_status(again["uuid"], "Running")


def test_commit_bad_input_leaves_no_image(env: Env) -> None:
    uuid = _running(env)
    for query in ("", "?repository=Bad%20Name", "?repository=ok&tag=-bad"):
        response = env.call("POST", f"/v1/containers/{uuid}/commit{query}")
        assert response.status_code == 400, (query, response.text)
    env.driver.down = "Docker Engine is unreachable"
    response = env.call("POST", f"/v1/containers/{uuid}/commit?repository=snap")
    assert response.status_code == 202
    env.wait(uuid, lambda c: c["task_state"] is None)
    assert "Commit failed" in (env.show(uuid)["status_reason"] or "")
    images = env.images.get("/v2/images?name=snap", headers=env.users["demo"].headers)
    assert images.json()["images"] == []


def test_execute_with_the_engine_down_says_why(env: Env) -> None:
    uuid = _running(env)
    env.driver.down = "Docker Engine at unix:///nowhere is unreachable"
    response = env.call("POST", f"/v1/containers/{uuid}/execute?command=echo")
    assert response.status_code == 409
    assert "unreachable" in response.json()["errors"][0]["detail"]
