"""Bad requests get a 4xx in Zun's error shape that says what was wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Env


def error(env: Env, body: dict[str, Any], status: int, user: str = "demo") -> str:
    response = env.call("POST", "/v1/containers?run=true", user, json=body)
    assert response.status_code == status, response.text
    (err,) = response.json()["errors"]
    assert err["status"] == status
    return err["detail"]


def test_unknown_image_is_404(env: Env) -> None:
    assert "nothere could not be found" in error(env, {"image": "nothere"}, 404)


def test_another_projects_private_image_is_404(env: Env) -> None:
    env.image("private", user="other", visibility="private")
    assert "could not be found" in error(env, {"image": "private"}, 404)


def test_image_that_is_not_docker_format_is_400(env: Env) -> None:
    env.image("vm", container_format="bare")
    assert "container format docker" in error(env, {"image": "vm"}, 400)


@pytest.mark.parametrize("memory", ["5", "5M", "4096k", "lots", "-1", "1T"])
def test_bad_memory_is_400(env: Env, memory: str) -> None:
    env.image()
    assert "memory" in error(env, {"image": "busybox", "memory": memory}, 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu", 0),
        ("name", "-bad"),
        ("hostname", "not a hostname"),
        ("restart_policy", {"Name": "sometimes"}),
        ("image_driver", "nfs"),
        ("mounts", [{"source": "v", "destination": "/d"}]),
        ("privileged", True),
        ("unknown_field", 1),
    ],
)
def test_bad_fields_are_400_and_named(env: Env, field: str, value: Any) -> None:
    env.image()
    assert field in error(env, {"image": "busybox", field: value}, 400)


def test_naming_a_host_is_for_admins(env: Env) -> None:
    env.image()
    error(env, {"image": "busybox", "host": "node1"}, 403)


def test_malformed_json_is_400(env: Env) -> None:
    response = env.call(
        "POST", "/v1/containers", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_no_room_anywhere_is_400(env: Env) -> None:
    env.image()
    assert "No container host" in error(env, {"image": "busybox", "cpu": 65}, 400)
    body = {"image": "busybox", "availability_zone": "elsewhere"}
    assert "elsewhere" in error(env, body, 400)


def test_quota_exceeded_is_413(env: Env) -> None:
    env.image()
    project = env.users["demo"].project_id
    quota = env.call("PUT", f"/v1/quotas/{project}", "admin", json={"containers": 1})
    assert quota.status_code == 200, quota.text
    env.run()
    assert "Quota exceeded for containers" in error(env, {"image": "busybox"}, 413)
    env.run("other")  # other projects keep their own quota


def test_unknown_container_is_404(env: Env) -> None:
    for method, path in (
        ("GET", "/v1/containers/nope"),
        ("DELETE", "/v1/containers/nope"),
        ("POST", "/v1/containers/nope/start"),
        ("GET", "/v1/containers/nope/logs"),
    ):
        assert env.call(method, path).status_code == 404, path


def test_bad_kill_signal_is_400(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    assert env.call("POST", f"/v1/containers/{uuid}/kill?signal=SIGNOPE").status_code == 400


def test_the_title_is_the_message_as_zunclient_shows_it(env: Env) -> None:
    response = env.call("GET", "/v1/containers/nope")
    (err,) = response.json()["errors"]
    assert err["title"] == err["detail"] == "Container nope could not be found."
    assert err["request_id"] == response.headers["x-openstack-request-id"]


def test_bad_logs_tail_is_400(env: Env) -> None:
    env.image()
    uuid = env.run()["uuid"]
    env.wait_status(uuid, "Running")
    assert env.call("GET", f"/v1/containers/{uuid}/logs?tail=lots").status_code == 400
    assert env.call("GET", f"/v1/containers/{uuid}/logs?tail=5").status_code == 200
