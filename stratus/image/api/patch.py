"""Image updates as ``application/openstack-images-v2.1-json-patch``: the subset of
RFC 6902 Glance accepts (add, replace and remove of top-level attributes), applied to
the attributes clients may write, with Glance's answers to what it refuses."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.image.api.fields import WRITABLE, PatchOperation, check_writable
from stratus.runtime.api.errors import BadRequest, Conflict, Forbidden

CONTENT_TYPE = "application/openstack-images-v2.1-json-patch"
_BAD_ESCAPE = re.compile(r"~(?![01])")


@dataclass(frozen=True)
class Change:
    op: str
    name: str
    value: Any = None


def changes(operations: Sequence[PatchOperation]) -> list[Change]:
    """Check each operation's path and value."""
    result = []
    for operation in operations:
        name = attribute(operation.path)
        if operation.op != "remove" and "value" not in operation.model_fields_set:
            raise BadRequest(f"Operation '{operation.op}' on {operation.path} needs a 'value'.")
        result.append(Change(operation.op, name, operation.value))
    return result


def attribute(path: str) -> str:
    """The attribute a JSON pointer names, if clients may write it (403 otherwise); only
    top-level attributes can be patched."""
    if not path.startswith("/"):
        raise BadRequest(f"Path {path!r} is not a JSON pointer (it must start with '/').")
    parts = path[1:].split("/")
    if any(_BAD_ESCAPE.search(part) for part in parts):
        raise BadRequest(f"Path {path!r} has a '~' that is not followed by 0 or 1.")
    name = parts[0].replace("~1", "/").replace("~0", "~")
    if not name:
        raise BadRequest("Path '/' names no attribute.")
    check_writable(name)
    if len(parts) > 1:
        raise BadRequest(f"Path {path!r} is nested; only top-level attributes can be changed.")
    return name


def apply(state: Mapping[str, Any], changes: Sequence[Change]) -> dict[str, Any]:
    """The writable attributes of an image after the changes, in order. ``state`` holds
    every core writable attribute and the custom properties."""
    result = dict(state)
    for change in changes:
        core = change.name in WRITABLE
        if change.op == "remove":
            if core:
                raise Forbidden(f"Attribute '{change.name}' cannot be removed.")
            if change.name not in result:
                raise Conflict(f"Property '{change.name}' does not exist.")
            del result[change.name]
        elif change.op == "replace" and not core and change.name not in result:
            raise Conflict(f"Property '{change.name}' does not exist; use 'add' to create it.")
        else:
            result[change.name] = change.value
    return result
