"""The compute agent killed (SIGKILL) during a build and started again: the server ends
ACTIVE or ERROR, never stuck in BUILD, and an ERROR leaves no domain, tap or port. In the
split deployment only the compute-agent process dies; all-in-one, the whole cloud."""

from __future__ import annotations

import time
import uuid

import pytest

from stratus.network.plugging import device_name
from stratus.testing.cloud import Cloud
from tests.e2e.test_compute import GUEST, domains_of, link_exists, wait_for

pytestmark = pytest.mark.e2e


def test_killing_the_compute_agent_mid_build_leaves_nothing_stuck(cloud: Cloud) -> None:
    suffix = uuid.uuid4().hex[:8]
    net, sub, vm = f"crash-{suffix}", f"crash-sub-{suffix}", f"crash-vm-{suffix}"
    cloud.openstack("network", "create", net, cloud="stratus-demo")
    cloud.openstack(
        "subnet", "create", "--network", net, "--subnet-range", "10.9.0.0/24", sub,
        cloud="stratus-demo",
    )  # fmt: skip
    created = cloud.openstack(
        "server", "create", "--image", GUEST, "--flavor", "m1.tiny", "--network", net, vm,
        "-f", "json", cloud="stratus-demo",
    )  # fmt: skip

    def show() -> dict:
        return cloud.openstack("server", "show", created["id"], "-f", "json")

    # Kill it once the build has reached the host (or at once if it is already past that).
    deadline = time.monotonic() + 60
    while show()["OS-EXT-STS:task_state"] not in ("spawning", None):
        assert time.monotonic() < deadline, show()
        time.sleep(0.1)
    cloud.kill_and_restart("compute-agent")

    final = wait_for("the server to leave BUILD", lambda: show()["status"] != "BUILD" and show())
    assert final["status"] in ("ACTIVE", "ERROR"), final
    ports = cloud.openstack("port", "list", "--device-id", created["id"], "-f", "json")
    if final["status"] == "ERROR":
        assert final["fault"], final
        assert f"instance-{created['id']}" not in domains_of(cloud.host)
        assert ports == []
    else:
        assert f"instance-{created['id']}" in domains_of(cloud.host)
        assert len(ports) == 1 and link_exists(device_name(ports[0]["ID"]))

    cloud.openstack("server", "delete", "--wait", created["id"])
    assert f"instance-{created['id']}" not in domains_of(cloud.host)
    assert cloud.openstack("port", "list", "--device-id", created["id"], "-f", "json") == []
    cloud.openstack("network", "delete", net, cloud="stratus-demo")
