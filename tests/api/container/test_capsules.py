"""Capsules: created from a template as python-zunclient sends it, claimed on one host,
listed, shown, deleted with every container; bad templates are 4xx with the reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Env


def template(*containers: dict[str, Any], name: str = "pod1") -> dict[str, Any]:
    return {
        "capsuleVersion": "beta",
        "kind": "capsule",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"restartPolicy": "Always", "containers": list(containers)},
    }


WEB = {
    "image": "busybox",
    "command": ["httpd"],
    "args": ["-f", "-p", "8080"],
    "resources": {"requests": {"cpu": 0.5, "memory": 64}},
    "env": {"PORT": 8080},
}
SIDE = {"image": "busybox", "command": ["sleep", "60"]}


def _create(env: Env, body: dict[str, Any], status: int = 202, user: str = "demo") -> Any:
    response = env.call("POST", "/v1/capsules/", user, json={"template": body})
    assert response.status_code == status, response.text
    return response.json()


def test_capsule_from_create_to_delete(env: Env) -> None:
    env.image()
    capsule = _create(env, template(WEB, SIDE))
    assert capsule["name"] == "pod1" and capsule["labels"] == {"app": "web"}
    assert capsule["restart_policy"] == {"Name": "always"}
    assert (capsule["cpu"], capsule["memory"]) == (1.5, "576")  # 0.5 + the default 1, MB
    web, side = capsule["containers"]
    assert web["command"] == ["httpd", "-f", "-p", "8080"] and web["environment"]["PORT"] == "8080"
    for member in (web, side):
        env.wait_status(member["uuid"], "Running")
    shown = env.call("GET", f"/v1/capsules/{capsule['uuid']}").json()
    assert shown["status"] == "Running"
    assert {env.driver.containers[m["uuid"]]["spec"]["capsule_id"] for m in (web, side)} == {
        capsule["uuid"]
    }
    assert env.call("GET", "/v1/capsules/pod1", "admin").json()["host"] == "node1"
    listed = env.call("GET", "/v1/capsules/").json()["capsules"]
    assert [c["uuid"] for c in listed] == [capsule["uuid"]]
    assert env.call("GET", "/v1/capsules", "other").json()["capsules"] == []
    alone = env.call("DELETE", f"/v1/containers/{web['uuid']}?stop=True")
    assert alone.status_code == 409 and "capsule" in alone.json()["errors"][0]["detail"]

    assert env.call("DELETE", f"/v1/capsules/{capsule['uuid']}").status_code == 204
    for member in (web, side):
        env.gone(member["uuid"])
    assert env.call("GET", f"/v1/capsules/{capsule['uuid']}").status_code == 404
    assert env.driver.containers == {}


def _reason(body: dict[str, Any]) -> str:
    return body["errors"][0]["detail"]


def test_bad_templates_are_400_and_leave_nothing(env: Env) -> None:
    env.image()
    assert "kind" in _reason(_create(env, {**template(SIDE), "kind": "pod"}, 400))
    assert "at least one" in _reason(_create(env, template(), 400))
    small = {**SIDE, "resources": {"requests": {"memory": "1M"}}}
    assert "6 MB" in _reason(_create(env, template(small), 400))
    assert "containers[1]" in _reason(_create(env, template(SIDE, {"command": ["x"]}), 400))
    assert "restartPolicy" in _reason(
        _create(env, {**template(SIDE), "spec": {"restartPolicy": "x", "containers": [SIDE]}}, 400)
    )
    _create(env, template({**SIDE, "image": "nosuch"}), 404)
    no_body = env.call("POST", "/v1/capsules", json={})
    assert no_body.status_code == 400
    assert env.call("GET", "/v1/capsules").json()["capsules"] == []
    assert env.call("GET", "/v1/containers").json()["containers"] == []


def test_a_capsule_over_the_quota_is_413(env: Env) -> None:
    env.image()
    project = env.users["demo"].project_id
    env.call("PUT", f"/v1/quotas/{project}", "admin", json={"containers": 1})
    body = _create(env, template(SIDE, SIDE), 413)
    assert "Quota exceeded for containers" in _reason(body)
    assert env.call("GET", "/v1/capsules").json()["capsules"] == []
    assert env.call("DELETE", "/v1/capsules/nope").status_code == 404
