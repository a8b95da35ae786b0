from typing import Any

import pytest

from stratus.image.api.fields import PatchOperation
from stratus.image.api.patch import Change, apply, attribute, changes
from stratus.runtime.api.errors import BadRequest, Conflict, Forbidden

STATE = {"name": "img", "visibility": "shared", "tags": ["a"], "os_distro": "debian"}


def ops(*raw: dict[str, Any]) -> list[Change]:
    return changes([PatchOperation.model_validate(item) for item in raw])


@pytest.mark.parametrize(
    ("path", "name"),
    [("/name", "name"), ("/a~1b", "a/b"), ("/a~0b", "a~b"), ("/~01", "~1"), ("/x y", "x y")],
)
def test_pointers_name_top_level_attributes(path: str, name: str) -> None:
    assert attribute(path) == name


@pytest.mark.parametrize("path", ["name", "", "/", "/a/b", "/a~2", "/a~", "/tags/0"])
def test_bad_pointers(path: str) -> None:
    with pytest.raises(BadRequest):
        attribute(path)


@pytest.mark.parametrize("path", ["/status", "/id", "/size", "/checksum", "/self"])
def test_read_only_attributes(path: str) -> None:
    with pytest.raises(Forbidden, match="read-only"):
        attribute(path)


@pytest.mark.parametrize("path", ["/locations", "/locations/0", "/deleted", "/os_glance_x"])
def test_reserved_attributes(path: str) -> None:
    with pytest.raises(Forbidden, match="reserved"):
        attribute(path)


def test_value_is_required_except_for_remove() -> None:
    with pytest.raises(BadRequest, match="value"):
        ops({"op": "add", "path": "/name"})
    assert ops({"op": "replace", "path": "/name", "value": None}) == [
        Change("replace", "name", None)
    ]
    assert ops({"op": "remove", "path": "/os_distro"}) == [Change("remove", "os_distro")]


def test_add_sets_or_overwrites() -> None:
    result = apply(
        STATE,
        [Change("add", "name", "new"), Change("add", "os_distro", "arch"), Change("add", "k", "v")],
    )
    assert result == {**STATE, "name": "new", "os_distro": "arch", "k": "v"}
    assert STATE["name"] == "img"  # the input is left alone


def test_replace_needs_an_existing_custom_property() -> None:
    assert apply(STATE, [Change("replace", "os_distro", "x")])["os_distro"] == "x"
    assert apply(STATE, [Change("replace", "min_ram", 5)])["min_ram"] == 5  # core: always there
    with pytest.raises(Conflict):
        apply(STATE, [Change("replace", "missing", "x")])


def test_remove() -> None:
    assert "os_distro" not in apply(STATE, [Change("remove", "os_distro")])
    with pytest.raises(Conflict):
        apply(STATE, [Change("remove", "missing")])
    for core in ("name", "tags", "visibility", "min_disk"):
        with pytest.raises(Forbidden):
            apply(STATE, [Change("remove", core)])


def test_operations_apply_in_order() -> None:
    result = apply(
        STATE,
        [Change("add", "k", "1"), Change("replace", "k", "2"), Change("remove", "os_distro")],
    )
    assert result["k"] == "2" and "os_distro" not in result
    with pytest.raises(Conflict):
        apply(STATE, [Change("remove", "os_distro"), Change("replace", "os_distro", "x")])
