"""Mounts (Zun v1 ``mounts``): a new local volume of ``size`` GiB and a file injection
(``type=bind``, the content base64 in ``source``) as python-zunclient sends them, recorded,
shown, given to the agent and gone with the container; every other shape is a 400 in
Zun's error shape that says what was wrong, and nothing is recorded."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest

from stratus.container.schemas import MAX_FILE_BYTES, MAX_MOUNTS
from tests.api.container.test_capsules import SIDE, template

if TYPE_CHECKING:
    from conftest import Env

CONFIG = base64.b64encode(b"listen 8080\n").decode()


def refused(env: Env, mounts: Any) -> str:
    body = {"image": "busybox", "command": ["sleep", "60"], "mounts": mounts}
    response = env.call("POST", "/v1/containers?run=true", json=body)
    assert response.status_code == 400, response.text
    (err,) = response.json()["errors"]
    assert (err["status"], err["code"], err["title"]) == (400, "BadRequest", err["detail"])
    assert env.call("GET", "/v1/containers").json()["containers"] == []
    return err["detail"]


def test_a_local_volume_and_a_file_from_create_to_delete(env: Env) -> None:
    env.image()
    mounts = [  # what `openstack appcontainer run --mount destination=/data,size=1` sends
        {"destination": "/data", "size": "1"},
        {"type": "bind", "source": CONFIG, "destination": "/etc/app/app.conf"},
        {"destination": "/cache/", "size": 3},
    ]
    uuid = env.run(mounts=mounts)["uuid"]
    shown = env.wait_status(uuid, "Running")
    assert shown["mounts"] == [
        {"type": "volume", "destination": "/data", "size": 1},
        {"type": "bind", "destination": "/etc/app/app.conf", "size": None},
        {"type": "volume", "destination": "/cache", "size": 3},
    ]
    assert env.driver.containers[uuid]["spec"]["mounts"] == [
        {"type": "volume", "destination": "/data", "size": 1},
        {"type": "bind", "destination": "/etc/app/app.conf", "source": CONFIG},
        {"type": "volume", "destination": "/cache", "size": 3},
    ]
    assert env.driver.volume_owners() == {uuid}
    env.agent.reconcile()  # an agent restart keeps what a record wants
    assert env.driver.volume_owners() == {uuid}

    assert env.call("DELETE", f"/v1/containers/{uuid}?stop=True").status_code == 204
    env.gone(uuid)
    assert env.driver.volume_owners() == set()


def test_no_mounts_show_an_empty_list(env: Env) -> None:
    env.image()
    uuid = env.run(mounts=[])["uuid"]
    assert env.show(uuid)["mounts"] == []
    assert env.wait_status(uuid, "Running") and env.driver.volume_owners() == set()


def test_reconcile_removes_volumes_no_record_wants(env: Env) -> None:
    """A volume left by a container whose record is gone (its agent was down when it
    was deleted, say) goes at the agent's next pass."""
    env.image()
    uuid = env.run(mounts=[{"destination": "/data", "size": 1}])["uuid"]
    env.wait_status(uuid, "Running")
    env.driver.volumes["gone-container"] = [{"type": "volume", "destination": "/d", "size": 1}]
    env.agent.reconcile()
    assert env.driver.volume_owners() == {uuid}


def test_a_failed_create_leaves_no_volume(env: Env) -> None:
    env.image()
    env.driver.down = "Docker is not answering"
    uuid = env.run(mounts=[{"destination": "/data", "size": 1}])["uuid"]
    env.wait_status(uuid, "Error")
    env.driver.down = None
    assert env.driver.volume_owners() == set()
    assert env.call("DELETE", f"/v1/containers/{uuid}").status_code == 204
    env.gone(uuid)


def test_a_block_storage_volume_needs_the_volume_service(env: Env) -> None:
    env.image()
    detail = refused(env, [{"source": "my-volume", "destination": "/data"}])
    assert "'mounts.0'" in detail and "my-volume" in detail
    assert "block-storage volume" in detail and "volume service" in detail


@pytest.mark.parametrize(
    ("mount", "says"),
    [
        ({"destination": "data", "size": 1}, "must be an absolute path"),
        ({"destination": "/", "size": 1}, "cannot be the container's root"),
        ({"destination": "//..", "size": 1}, "cannot be the container's root"),
        ({"destination": "/da\nta", "size": 1}, "control characters"),
        ({"destination": "", "size": 1}, "at least 1 character"),
        ({"size": 1}, "'mounts.0.destination' is required"),
        ({"destination": "/data"}, "needs size"),
        ({"destination": "/data", "size": 0}, "greater than 0"),
        ({"destination": "/data", "size": "-1"}, "whole number of GiB"),
        ({"destination": "/data", "size": "1G"}, "whole number of GiB"),
        ({"destination": "/data", "size": 1.5}, "valid integer"),
        ({"destination": "/data", "size": True}, "whole number of GiB"),
        ({"destination": "/data", "size": 1, "type": "tmpfs"}, "'volume' or 'bind'"),
        ({"destination": "/data", "size": 1, "readonly": True}, "not an allowed field"),
        ({"type": "bind", "destination": "/etc/a"}, "needs source"),
        ({"type": "bind", "destination": "/etc/a", "source": CONFIG, "size": 1}, "size is for"),
        ({"type": "bind", "destination": "/etc/a", "source": "not base64!"}, "base64"),
        (
            {
                "type": "bind",
                "destination": "/etc/a",
                "source": base64.b64encode(b"x" * (MAX_FILE_BYTES + 1)).decode(),
            },
            f"at most {MAX_FILE_BYTES} bytes",
        ),
    ],
)
def test_bad_mounts_are_400_and_say_why(env: Env, mount: dict[str, Any], says: str) -> None:
    env.image()
    detail = refused(env, [mount])
    assert "mounts.0" in detail and says in detail, detail


def test_a_destination_is_mounted_once(env: Env) -> None:
    env.image()
    mounts = [
        {"destination": "/data", "size": 1},
        {"type": "bind", "destination": "/data/", "source": CONFIG},
    ]
    assert "destination /data is mounted more than once" in refused(env, mounts)


def test_at_most_so_many_mounts(env: Env) -> None:
    env.image()
    mounts = [{"destination": f"/d{i}", "size": 1} for i in range(MAX_MOUNTS + 1)]
    assert f"at most {MAX_MOUNTS} items" in refused(env, mounts)
    assert "'mounts.0'" not in refused(env, "not a list")


def test_capsule_volumes_are_refused_until_there_is_a_volume_service(env: Env) -> None:
    env.image()
    with_volumes = template(SIDE)
    with_volumes["spec"]["volumes"] = [{"name": "v1", "cinder": {"size": 1, "autoRemove": True}}]
    mounting = template({**SIDE, "volumeMounts": [{"name": "v1", "mountPath": "/data"}]})
    for body in (with_volumes, mounting):
        response = env.call("POST", "/v1/capsules/", json={"template": body})
        assert response.status_code == 400, response.text
        (err,) = response.json()["errors"]
        assert "Capsule volumes" in err["detail"] and "volume service" in err["detail"]
    assert env.call("GET", "/v1/capsules/").json()["capsules"] == []
