"""``/v2.0/networks``: defaults, provider attributes, who sees and changes what, and
what bad requests get."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Env


def test_create_with_defaults(env: Env) -> None:
    network = env.network(name="net1")
    assert network["name"] == "net1" and network["status"] == "ACTIVE"
    assert network["project_id"] == network["tenant_id"] == env.project("demo")
    assert network["admin_state_up"] is True and network["shared"] is False
    assert network["router:external"] is False and network["port_security_enabled"] is True
    assert network["mtu"] == 1450  # VXLAN on a 1500 physical network
    assert network["revision_number"] == 1 and network["subnets"] == []
    assert network["created_at"].endswith("Z") and network["tags"] == []
    assert "provider:network_type" not in network  # provider attributes are for admins
    admin_view = env.ok("GET", f"networks/{network['id']}", "admin")["network"]
    assert admin_view["provider:network_type"] == "vxlan"
    assert admin_view["provider:segmentation_id"] == 1


def test_admin_creates_provider_networks(env: Env) -> None:
    vlan = env.network(
        "admin",
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet2",
            "provider:segmentation_id": 42,
        },
    )
    assert (vlan["provider:physical_network"], vlan["provider:segmentation_id"]) == ("physnet2", 42)
    assert vlan["mtu"] == 1500
    flat = env.network(
        "admin",
        **{
            "provider:network_type": "flat",
            "provider:physical_network": "public",
            "router:external": True,
            "shared": True,
        },
    )
    assert flat["router:external"] is True and flat["shared"] is True
    assert flat["provider:segmentation_id"] is None
    taken = env.error(
        409,
        "POST",
        "networks",
        "admin",
        json={
            "network": {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet2",
                "provider:segmentation_id": 42,
            }
        },
    )
    assert (
        taken["type"] == "VlanIdInUse"
        and "VLAN 42 on physical network physnet2" in taken["message"]
    )


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (
            {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 4095,
            },
            "out of range (1 through 4094)",
        ),
        (
            {"provider:network_type": "vlan", "provider:physical_network": "physnet9"},
            "not one of network_vlan_ranges",
        ),
        ({"provider:segmentation_id": 5}, "provider:network_type is required"),
        ({"provider:network_type": "gre"}, "network type 'gre' is not supported"),
        (
            {"provider:network_type": "vxlan", "provider:segmentation_id": "x"},
            "provider:segmentation_id",
        ),
    ],
)
def test_bad_provider_attributes(env: Env, provider: dict[str, object], message: str) -> None:
    error = env.error(400, "POST", "networks", "admin", json={"network": provider})
    assert message in error["message"]


def test_members_may_not_set_admin_attributes(env: Env) -> None:
    for attribute, value in (
        ("provider:segmentation_id", 7),
        ("provider:network_type", "vlan"),
        ("shared", True),
        ("router:external", True),
    ):
        body = {"network": {attribute: value}}
        if attribute == "provider:segmentation_id":
            body["network"]["provider:network_type"] = "vxlan"
        error = env.error(403, "POST", "networks", json=body)
        assert error["type"] == "PolicyNotAuthorized"
        assert f"create_network:{attribute}" in error["message"]
    # Defaults sent explicitly are fine.
    assert env.network(shared=False, **{"router:external": False})["shared"] is False


def test_visibility_across_projects(env: Env) -> None:
    own = env.network(name="own")
    env.network("admin", name="shared", shared=True)
    env.network("admin", name="public", **{"router:external": True})
    env.network("admin", name="private")
    env.network("other", name="theirs")
    assert {n["name"] for n in env.ok("GET", "networks")["networks"]} == {"own", "shared", "public"}
    assert len(env.ok("GET", "networks", "admin")["networks"]) == 5
    missing = env.error(404, "GET", f"networks/{own['id']}", "other")
    assert missing["type"] == "NetworkNotFound" and own["id"] in missing["message"]
    env.error(404, "PUT", f"networks/{own['id']}", "other", json={"network": {"name": "x"}})
    env.error(404, "DELETE", f"networks/{own['id']}", "other")
    assert env.ok("GET", f"networks/{own['id']}", "reader")["network"]["name"] == "own"
    env.error(403, "PUT", f"networks/{own['id']}", "reader", json={"network": {"name": "x"}})
    env.error(403, "POST", "networks", "reader", json={"network": {"name": "x"}})


def test_update(env: Env) -> None:
    network = env.network()
    path = f"networks/{network['id']}"
    updated = env.ok(
        "PUT", path, json={"network": {"name": "renamed", "mtu": 1400, "admin_state_up": False}}
    )["network"]
    assert (updated["name"], updated["mtu"], updated["admin_state_up"]) == ("renamed", 1400, False)
    assert updated["revision_number"] == 2
    too_big = env.error(400, "PUT", path, json={"network": {"mtu": 9000}})
    assert "at most 1450" in too_big["message"]
    env.error(403, "PUT", path, json={"network": {"shared": True}})
    provider = env.error(
        400, "PUT", path, "admin", json={"network": {"provider:segmentation_id": 3}}
    )
    assert "cannot be changed" in provider["message"]
    stale = env.error(
        412, "PUT", path, json={"network": {"name": "x"}}, headers={"If-Match": "revision_number=1"}
    )
    assert stale["type"] == "RevisionNumberConstraintFailed"
    assert env.ok(
        "PUT", path, json={"network": {"name": "y"}}, headers={"If-Match": "revision_number=2"}
    )


def test_shared_and_external_cannot_be_dropped_while_used(env: Env) -> None:
    shared = env.network("admin", shared=True)
    env.subnet(shared["id"], user="admin")
    env.port(shared["id"], "demo")
    error = env.error(
        409, "PUT", f"networks/{shared['id']}", "admin", json={"network": {"shared": False}}
    )
    assert error["type"] == "InvalidSharedSetting"
    public = env.network("admin", **{"router:external": True})
    env.subnet(public["id"], "203.0.113.0/24", "admin")
    env.create("floatingip", floating_network_id=public["id"])
    error = env.error(
        409,
        "PUT",
        f"networks/{public['id']}",
        "admin",
        json={"network": {"router:external": False}},
    )
    assert "must stay external" in error["message"]


def test_delete(env: Env) -> None:
    network = env.network()
    subnet = env.subnet(network["id"])
    port = env.port(network["id"])
    error = env.error(409, "DELETE", f"networks/{network['id']}")
    assert error["type"] == "NetworkInUse" and "ports still in use" in error["message"]
    env.ok("DELETE", f"ports/{port['id']}")
    env.ok("DELETE", f"networks/{network['id']}")  # the DHCP port goes with it
    env.error(404, "GET", f"subnets/{subnet['id']}")
    assert env.ok("GET", "ports", "admin")["ports"] == []
    vni = env.network()["id"]
    assert env.ok("GET", f"networks/{vni}", "admin")["network"]["provider:segmentation_id"] == 1


def test_tenant_segments_run_out(env: Env) -> None:
    for _ in range(6):  # the VNIs of the test config
        env.network()
    error = env.error(503, "POST", "networks", json={"network": {"name": "four"}})
    assert error["type"] == "NoNetworkAvailable"


def test_unknown_availability_zone_hint(env: Env) -> None:
    error = env.error(
        400, "POST", "networks", json={"network": {"availability_zone_hints": ["az9"]}}
    )
    assert error["type"] == "AvailabilityZoneNotFound"


def test_list_filters_fields_sorting_and_paging(env: Env) -> None:
    ids = [env.network(name=f"n{i}", admin_state_up=i != 1)["id"] for i in range(3)]
    env.network("admin", name="pub", **{"router:external": True})

    def names(**params: object) -> list[str]:
        return [n["name"] for n in env.ok("GET", "networks", params=params)["networks"]]

    assert names(name="n2") == ["n2"]
    assert names(admin_state_up="false") == ["n1"]
    assert names(**{"router:external": "true"}) == ["pub"]
    assert names(sort_key="name", sort_dir="desc") == ["pub", "n2", "n1", "n0"]
    assert sorted(names(id=[ids[0], ids[2]])) == ["n0", "n2"]
    only = env.ok("GET", "networks", params={"fields": ["id", "name"], "name": "n0"})["networks"]
    assert only == [{"id": ids[0], "name": "n0"}]
    bad = env.error(400, "GET", "networks", params={"colour": "red"})
    assert "[colour] is invalid attribute for filtering" in bad["message"]
    env.error(400, "GET", "networks", params={"provider:network_type": "vxlan"})  # admins only
    vxlan = env.ok("GET", "networks", "admin", params={"provider:network_type": "vxlan"})
    assert len(vxlan["networks"]) == 4
    first = env.ok("GET", "networks", params={"limit": 2, "sort_key": "name", "sort_dir": "asc"})
    assert [n["name"] for n in first["networks"]] == ["n0", "n1"]
    (link,) = first["networks_links"]
    assert link["rel"] == "next" and "marker=" in link["href"]
    second = env.client.get(link["href"], headers={"X-Auth-Token": env.users["demo"].token}).json()
    assert [n["name"] for n in second["networks"]] == ["n2", "pub"]
    (previous,) = second["networks_links"]
    assert previous["rel"] == "previous"
    back = env.client.get(
        previous["href"], headers={"X-Auth-Token": env.users["demo"].token}
    ).json()
    assert [n["name"] for n in back["networks"]] == ["n0", "n1"]
    env.error(400, "GET", "networks", params={"marker": "nope"})
    env.error(400, "GET", "networks", params={"sort_key": "colour"})


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"content": b"{", "headers": {"Content-Type": "application/json"}}, 400, "Malformed JSON"),
        ({"content": b"name=x", "headers": {"Content-Type": "text/plain"}}, 415, "not supported"),
        (
            {"json": {"network": {"name": "x", "colour": "red"}}},
            400,
            "'network.colour' is not an allowed field",
        ),
        ({"json": {"net": {}}}, 400, "'network' is required"),
        ({"json": {"network": {"admin_state_up": "maybe"}}}, 400, "admin_state_up"),
        ({"json": {"network": {"name": "x" * 256}}}, 400, "network.name"),
    ],
)
def test_bad_bodies(env: Env, kwargs: dict[str, object], status: int, message: str) -> None:
    error = env.error(status, "POST", "networks", **kwargs)
    assert message in error["message"]


def test_changed_since(env: Env) -> None:
    old = env.network(name="old")
    later = env.network(name="later")["created_at"]
    env.ok("PUT", f"networks/{old['id']}", json={"network": {"description": "touched"}})
    names = {
        n["name"] for n in env.ok("GET", "networks", params={"changed_since": later})["networks"]
    }
    assert names == {"old", "later"}
    future = {"changed_since": "2999-01-01T00:00:00Z"}
    assert env.ok("GET", "networks", params=future)["networks"] == []
    env.error(400, "GET", "networks", params={"changed_since": "yesterday"})
