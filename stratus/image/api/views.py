"""How images and members look on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.image.models import Image, ImageMember

IMAGE_SCHEMA = "/v2/schemas/image"
IMAGES_SCHEMA = "/v2/schemas/images"
MEMBER_SCHEMA = "/v2/schemas/member"
MEMBERS_SCHEMA = "/v2/schemas/members"


def timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def image(row: Image) -> dict[str, Any]:
    """Every core attribute (null when unset), then the custom properties."""
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "visibility": row.visibility,
        "protected": row.protected,
        "os_hidden": row.os_hidden,
        "owner": row.owner,
        "disk_format": row.disk_format,
        "container_format": row.container_format,
        "size": row.size,
        "virtual_size": row.virtual_size,
        "checksum": row.checksum,
        "os_hash_algo": row.os_hash_algo,
        "os_hash_value": row.os_hash_value,
        "min_disk": row.min_disk,
        "min_ram": row.min_ram,
        "tags": sorted(tag.value for tag in row.tags),
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "self": f"/v2/images/{row.id}",
        "file": f"/v2/images/{row.id}/file",
        "schema": IMAGE_SCHEMA,
    }
    for prop in row.properties:
        body[prop.name] = prop.value
    return body


def member(row: ImageMember) -> dict[str, Any]:
    return {
        "image_id": row.image_id,
        "member_id": row.member,
        "status": row.status,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "schema": MEMBER_SCHEMA,
    }
