"""``/v2/schemas/image(s)`` and ``/v2/schemas/member(s)``: the JSON schemas Glance
clients fetch to learn which attributes are core, read-only or enumerated. Built from
:mod:`stratus.image.api.fields`, so they always say what the API enforces."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from stratus.image.api import fields
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.routing import Router

router = Router(prefix="/v2/schemas", dependencies=[Depends(authenticated)])

_NULLABLE_STRING = ["null", "string"]


def _attr(kind: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


def _read_only(kind: Any, description: str, **extra: Any) -> dict[str, Any]:
    return _attr(kind, description, readOnly=True, **extra)


def _enum(values: tuple[str, ...], description: str, nullable: bool = False) -> dict[str, Any]:
    if nullable:
        return _attr(_NULLABLE_STRING, description, enum=[None, *values])
    return _attr("string", description, enum=list(values))


def image_schema() -> dict[str, Any]:
    properties = {
        "id": _attr("string", "The image's UUID.", pattern=fields.UUID_PATTERN),
        "name": _attr(_NULLABLE_STRING, "A name for people.", maxLength=fields.NAME_LENGTH),
        "status": _read_only("string", "Where the image is in its life.", enum=fields.STATUSES),
        "visibility": _enum(fields.VISIBILITIES, "Who may see and use the image."),
        "protected": _attr("boolean", "Whether the image is kept from deletion."),
        "os_hidden": _attr("boolean", "Whether the image is left out of default listings."),
        "owner": _attr(_NULLABLE_STRING, "The owning project.", maxLength=fields.NAME_LENGTH),
        "disk_format": _enum(fields.DISK_FORMATS, "The format of the disk.", nullable=True),
        "container_format": _enum(
            fields.CONTAINER_FORMATS, "The format of the container.", nullable=True
        ),
        "size": _read_only(["null", "integer"], "Bytes of image data."),
        "virtual_size": _read_only(["null", "integer"], "Bytes of the disk the data holds."),
        "checksum": _read_only(_NULLABLE_STRING, "MD5 of the image data.", maxLength=32),
        "os_hash_algo": _read_only(
            _NULLABLE_STRING, "The algorithm of os_hash_value.", maxLength=64
        ),
        "os_hash_value": _read_only(
            _NULLABLE_STRING, "Secure hash of the image data.", maxLength=128
        ),
        "min_disk": _attr("integer", "GiB of disk needed to boot the image.", minimum=0),
        "min_ram": _attr("integer", "MiB of memory needed to boot the image.", minimum=0),
        "tags": _attr(
            "array",
            "Labels of the image.",
            items={"type": "string", "maxLength": fields.NAME_LENGTH},
        ),
        "created_at": _read_only("string", "When the image was created."),
        "updated_at": _read_only("string", "When the image last changed."),
        "self": _read_only("string", "The image's path."),
        "file": _read_only("string", "The path of the image's data."),
        "schema": _read_only("string", "The path of this schema."),
    }
    return {
        "name": "image",
        "properties": properties,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "image_id": _attr("string", "The shared image.", pattern=fields.UUID_PATTERN),
            "member_id": _attr("string", "The project the image is shared with."),
            "status": _enum(fields.MEMBER_STATUSES, "Whether the member accepted the image."),
            "created_at": _attr("string", "When the image was shared."),
            "updated_at": _attr("string", "When the membership last changed."),
            "schema": _read_only("string", "The path of this schema."),
        },
    }


def _collection(name: str, item: dict[str, Any], paged: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        name: {"type": "array", "items": item},
        "schema": {"type": "string"},
    }
    links = [{"rel": "describedby", "href": "{schema}"}]
    if paged:
        properties.update(first={"type": "string"}, next={"type": "string"})
        links = [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, *links]
    return {"name": name, "properties": properties, "links": links}


@router.get("/image")
def show_image_schema() -> dict[str, Any]:
    return image_schema()


@router.get("/images")
def show_images_schema() -> dict[str, Any]:
    return _collection("images", image_schema(), paged=True)


@router.get("/member")
def show_member_schema() -> dict[str, Any]:
    return member_schema()


@router.get("/members")
def show_members_schema() -> dict[str, Any]:
    return _collection("members", member_schema(), paged=False)
