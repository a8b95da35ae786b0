"""Server and flavor views at different microversions, without an API around them."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from stratus.compute import states
from stratus.compute.api import flavors, server_views
from stratus.compute.api.policy import default_policy
from stratus.compute.models import Flavor, FlavorExtraSpec, Instance, InstanceFault, InstanceTag
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.microversion import APIVersion
from stratus.runtime.config import Config

FLAVOR = {
    "id": "1",
    "name": "m1.tiny",
    "vcpus": 1,
    "memory_mb": 512,
    "root_gb": 1,
    "ephemeral_gb": 0,
    "swap": 0,
    "extra_specs": {"hw:cpu_policy": "shared"},
}
USER = RequestContext("u", "demo", "default", frozenset({"member", "reader"}), project_id="p")
ADMIN = RequestContext("a", "admin", "default", frozenset({"admin", "member", "reader"}), "p2")


def request(conf: Config, version: str) -> Request:
    app = SimpleNamespace(
        state=SimpleNamespace(backend=SimpleNamespace(policy=default_policy(), conf=conf))
    )
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/v2.1/servers",
        "headers": [(b"host", b"cloud:8774")],
        "scheme": "http",
        "server": ("cloud", 8774),
        "root_path": "",
        "query_string": b"",
        "app": app,
        "state": {"api_version": APIVersion.parse(version)},
    }
    return Request(scope)


def instance(**values: Any) -> Instance:
    defaults: dict[str, Any] = {
        "uuid": "6a0c2d3e-0000-4000-8000-000000000001",
        "display_name": "vm",
        "hostname": "vm",
        "project_id": "p",
        "user_id": "u",
        "image_ref": "img",
        "flavor": FLAVOR,
        "vm_state": states.ACTIVE,
        "task_state": None,
        "power_state": states.RUNNING,
        "host": "node1",
        "node": "node1",
        "reservation_id": "r-1",
        "request": {},
        "network_info": [
            {
                "port_id": "p1",
                "network_id": "n1",
                "network_label": "private",
                "mac_address": "fa:16:3e:00:00:01",
                "fixed_ips": [{"ip_address": "10.0.0.5", "version": 4}],
            }
        ],
        "created_at": datetime(2024, 1, 2, 3, 4, 5),
        "locked": False,
        "progress": 0,
        "launch_index": 0,
        "config_drive": "",
        "kernel_id": "",
        "ramdisk_id": "",
    }
    row = Instance(**{**defaults, **values})
    row.metadata_items = []
    row.tags = [InstanceTag(tag="b"), InstanceTag(tag="a")]
    return row


def show(conf: Config, version: str, ctx: RequestContext = USER, **kw: Any) -> dict[str, Any]:
    row = kw.pop("row", None) or instance()
    extras = kw.pop("extras", None) or server_views.Extras()
    return server_views.show(request(conf, version), row, ctx, extras, **kw)


def test_flavor_embedded_from_2_47(conf: Config) -> None:
    old = show(conf, "2.46")["flavor"]
    assert old == {"id": "1", "links": [{"rel": "bookmark", "href": "http://cloud:8774/flavors/1"}]}
    new = show(conf, "2.47")["flavor"]
    assert new == {
        "vcpus": 1,
        "ram": 512,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "original_name": "m1.tiny",
        "extra_specs": {"hw:cpu_policy": "shared"},
    }


@pytest.mark.parametrize(
    ("field", "since"),
    [
        ("locked", "2.9"),
        ("description", "2.19"),
        ("tags", "2.26"),
        ("trusted_image_certificates", "2.63"),
        ("locked_reason", "2.73"),
    ],
)
def test_fields_appear_at_their_version(conf: Config, field: str, since: str) -> None:
    major, minor = since.split(".")
    assert field not in show(conf, f"{major}.{int(minor) - 1}")
    assert field in show(conf, since)


def test_addresses_tags_and_host_id(conf: Config) -> None:
    body = show(conf, "2.79")
    assert body["addresses"] == {
        "private": [
            {
                "version": 4,
                "addr": "10.0.0.5",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
            }
        ]
    }
    assert body["tags"] == ["a", "b"] and len(body["hostId"]) == 56
    assert body["created"] == "2024-01-02T03:04:05Z" and body["status"] == "ACTIVE"


def test_admin_attributes(conf: Config) -> None:
    assert "OS-EXT-SRV-ATTR:host" not in show(conf, "2.79")
    old = show(conf, "2.1", ADMIN)
    assert old["OS-EXT-SRV-ATTR:host"] == "node1" and "OS-EXT-SRV-ATTR:hostname" not in old
    new = show(conf, "2.16", ADMIN, extras=server_views.Extras(host_status={"node1": "UP"}))
    assert new["OS-EXT-SRV-ATTR:hostname"] == "vm" and new["host_status"] == "UP"


def test_basic_view_before_2_75(conf: Config) -> None:
    assert "OS-EXT-STS:vm_state" not in show(conf, "2.74", basic=True)
    assert "OS-EXT-STS:vm_state" in show(conf, "2.75", basic=True)
    assert "server_groups" not in show(conf, "2.70", with_groups=True)
    grouped = server_views.Extras(groups={instance().uuid: "g1"})
    assert show(conf, "2.71", with_groups=True, extras=grouped)["server_groups"] == ["g1"]


def test_fault_details_for_admins_or_non_500(conf: Config) -> None:
    row = instance(vm_state=states.ERROR)
    fault = InstanceFault(
        code=500, message="boom", details="trace", created_at=datetime(2024, 1, 1)
    )
    extras = server_views.Extras(faults={row.uuid: fault})
    assert show(conf, "2.1", row=row, extras=extras)["fault"] == {
        "code": 500,
        "created": "2024-01-01T00:00:00Z",
        "message": "boom",
    }
    assert show(conf, "2.1", ADMIN, row=row, extras=extras)["fault"]["details"] == "trace"


def test_flavor_detail_versions(conf: Config) -> None:
    row = Flavor(
        flavorid="1",
        name="m1.tiny",
        memory_mb=512,
        vcpus=1,
        root_gb=1,
        ephemeral_gb=0,
        swap=0,
        rxtx_factor=1.0,
        is_public=True,
        disabled=False,
    )
    row.extra_specs = [FlavorExtraSpec(key="k", value="v")]
    old = flavors.detail(request(conf, "2.1"), row, USER)
    assert old["swap"] == "" and "extra_specs" not in old and "description" not in old
    new = flavors.detail(request(conf, "2.75"), row, USER)
    assert new["swap"] == 0 and new["extra_specs"] == {"k": "v"} and new["description"] is None
