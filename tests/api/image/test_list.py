"""Listing images: who sees what, filters, sorting and paging."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pytest

if TYPE_CHECKING:
    from conftest import Env

FORMATS = {"disk_format": "raw", "container_format": "bare"}


@pytest.fixture
def landscape(env: Env) -> Env:
    """One image of each visibility for admin, demo and other."""
    env.create("admin", name="admin-public", visibility="public")
    env.create("admin", name="admin-private", visibility="private")
    for user in ("demo", "other"):
        for visibility in ("private", "shared", "community"):
            env.create(user, name=f"{user}-{visibility}", visibility=visibility)
    return env


def test_default_listing_per_persona(landscape: Env) -> None:
    own = {"demo-private", "demo-shared", "demo-community"}
    assert landscape.names("demo") == {"admin-public", *own}
    assert landscape.names("reader") == {"admin-public", *own}
    assert landscape.names("other") == {"admin-public", "other-private", "other-shared"} | {
        "other-community"
    }
    everything_but_community = {
        "admin-public",
        "admin-private",
        "demo-private",
        "demo-shared",
        "other-private",
        "other-shared",
    }
    assert landscape.names("admin") == everything_but_community


def test_visibility_filters(landscape: Env) -> None:
    assert landscape.names(visibility="community") == {"demo-community", "other-community"}
    assert landscape.names(visibility="public") == {"admin-public"}
    assert landscape.names(visibility="private") == {"demo-private"}
    assert landscape.names(visibility="shared") == {"demo-shared"}
    assert landscape.names(visibility="all") == {
        "admin-public",
        "demo-private",
        "demo-shared",
        "demo-community",
        "other-community",
    }
    assert len(landscape.names("admin", visibility="all")) == 8


def test_admin_can_filter_by_owner(landscape: Env) -> None:
    other = landscape.users["other"].project_id
    assert landscape.names("admin", owner=other) == {"other-private", "other-shared"}
    assert landscape.names("demo", owner=other) == set()


@pytest.mark.parametrize(
    "params",
    [
        {"visibility": "everyone"},
        {"member_status": "maybe"},
        {"protected": "yes"},
        {"os_hidden": "1"},
        {"size_min": "big"},
        {"size_max": "-1"},
        {"status": "in:active,sleeping"},
        {"status": "sleeping"},
        {"created_at": "gt:yesterday"},
        {"sort_key": "owner"},
        {"sort_key": "name", "sort_dir": "up"},
        {"sort": "name:up"},
        {"sort": "bogus:asc"},
        {"sort": "name", "sort_key": "name"},
        {"limit": "-1"},
        {"limit": "many"},
        {"marker": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_bad_list_parameters_are_400(env: Env, params: dict[str, str]) -> None:
    response = env.call("GET", "/v2/images", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]


def test_filters(env: Env) -> None:
    a = env.create(name="a", tags=["x", "y"], os_distro="debian", protected=True, **FORMATS)
    env.upload(a["id"], b"12345")
    b = env.create(name="b, with comma", tags=["x"], disk_format="qcow2", container_format="ovf")
    env.create(name="c", os_distro="fedora", os_hidden=True)
    assert env.names(name="a") == {"a"}
    assert env.names(name='in:a,"b, with comma"') == {"a", "b, with comma"}
    assert env.names(id=f"in:{a['id']},{b['id']}") == {"a", "b, with comma"}
    assert env.names(status="active") == {"a"}
    assert env.names(status="in:queued,saving") == {"b, with comma"}
    assert env.names(tag="x") == {"a", "b, with comma"}
    assert env.names(tag=["x", "y"]) == {"a"}
    assert env.names(disk_format="qcow2") == {"b, with comma"}
    assert env.names(container_format="in:bare,ovf") == {"a", "b, with comma"}
    assert env.names(protected="true") == {"a"}
    assert env.names(protected="false") == {"b, with comma"}
    assert env.names(size_min="5", size_max="5") == {"a"}
    assert env.names(size_min="6") == set()
    assert env.names(os_distro="debian") == {"a"}
    assert env.names(os_hidden="true") == {"c"}
    assert env.names(os_hidden="true", os_distro="fedora") == {"c"}
    assert env.names(checksum=env.show(a["id"])["checksum"]) == {"a"}


def test_time_filters(env: Env) -> None:
    first = env.create(name="first")
    time.sleep(1.1)  # timestamps are shown to the second
    env.create(name="second")
    created = first["created_at"]
    assert env.names(created_at=f"gt:{created}") == {"second"}
    assert env.names(created_at=f"lte:{created}") == {"first"}
    assert env.names(updated_at=f"gte:{created}") == {"first", "second"}
    assert env.names(created_at=f"neq:{created}") == {"second"}


def _page(env: Env, url: str) -> dict[str, Any]:
    response = env.call("GET", url)
    assert response.status_code == 200, response.text
    return response.json()


def test_paging_follows_next_links(env: Env) -> None:
    names = [f"img-{i}" for i in range(7)]
    for name in names:
        env.create(name=name)
    seen = []
    url: str | None = "/v2/images?limit=3&sort=name:asc"
    while url:
        body = _page(env, url)
        assert len(body["images"]) <= 3
        seen += [image["name"] for image in body["images"]]
        assert body["first"] == "/v2/images?limit=3&sort=name%3Aasc"
        url = body.get("next")
        if url:
            query = dict(parse_qsl(urlsplit(url).query))
            assert query["limit"] == "3" and query["sort"] == "name:asc" and query["marker"]
    assert seen == names


def test_sort_orders(env: Env) -> None:
    for name in ("b", "a", "c"):
        env.create(name=name)
        time.sleep(0.01)

    def order(**params: str) -> list[str]:
        response = env.call("GET", "/v2/images", params=params)
        return [image["name"] for image in response.json()["images"]]

    assert order() == ["c", "a", "b"]  # newest first
    assert order(sort_dir="asc") == ["b", "a", "c"]
    assert order(sort_key="name") == ["c", "b", "a"]
    assert order(sort_key="name", sort_dir="asc") == ["a", "b", "c"]
    assert order(sort="name") == ["c", "b", "a"]
    assert order(sort="status:asc,name:asc") == ["a", "b", "c"]


def test_limits(env: Env) -> None:
    for i in range(env.backend.default_limit + 1):
        env.create(name=f"i{i}")
    default = _page(env, "/v2/images")
    assert len(default["images"]) == env.backend.default_limit and "next" in default
    assert _page(env, "/v2/images?limit=0")["images"] == []
    everything = _page(env, "/v2/images?limit=5000")
    assert len(everything["images"]) == env.backend.default_limit + 1
    assert "next" not in everything
