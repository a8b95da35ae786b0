"""The image service (Glance v2), as the compute service uses it: show an image as the
caller sees it, download it to the agent's cache, and store a server's snapshot."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from stratus.runtime.api.errors import ServiceUnavailable
from stratus.runtime.clients.catalog import ServiceClient, error_message

# What Glance v2 shows of an image besides its custom properties.
CORE_FIELDS = frozenset(
    {
        "id", "name", "status", "visibility", "protected", "checksum", "owner", "size",
        "min_ram", "min_disk", "disk_format", "container_format", "created_at", "updated_at",
        "tags", "virtual_size", "os_hidden", "os_hash_algo", "os_hash_value", "file", "schema",
        "self", "direct_url", "locations", "stores",
    }
)  # fmt: skip
CHUNK = 1024 * 1024


class ImageError(Exception):
    """The image service refused or failed (the message says why)."""


def properties(image: dict[str, Any]) -> dict[str, Any]:
    """An image's custom properties, with its disk and container formats."""
    props = {k: v for k, v in image.items() if k not in CORE_FIELDS}
    for key in ("disk_format", "container_format", "min_ram", "min_disk"):
        if image.get(key) is not None:
            props[key] = image[key]
    return props


class ImageClient:
    def __init__(self, service: ServiceClient) -> None:
        self.service = service

    def show(self, image_id: str, token: str | None = None) -> dict[str, Any] | None:
        """The image as the token's owner sees it (None if it cannot)."""
        response = self.service.request("GET", f"/v2/images/{image_id}", token=token)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(f"The image service failed: {error_message(response)}")
        return response.json()

    def download(self, image_id: str, dest: Path) -> None:
        """Write the image's data to ``dest`` (whole or not at all), checking its hash."""
        partial = dest.with_name(f".{dest.name}.part")
        with self.service.stream("GET", f"/v2/images/{image_id}/file") as response:
            if response.status_code != 200:
                response.read()
                raise ImageError(f"Cannot download image {image_id}: {error_message(response)}")
            expected = response.headers.get("content-md5", "")  # Glance sends the checksum
            digest = hashlib.md5(usedforsecurity=False)
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                out.flush()
                os.fsync(out.fileno())
        if expected and digest.hexdigest() != expected:
            partial.unlink(missing_ok=True)
            raise ImageError(f"Image {image_id} arrived corrupted (its hash does not match).")
        partial.replace(dest)

    def create(self, body: dict[str, Any], token: str) -> dict[str, Any]:
        """A new (queued) image, owned by the token's project."""
        response = self.service.request("POST", "/v2/images", token=token, json=body)
        if response.status_code != 201:
            raise ImageError(f"Cannot create the image: {error_message(response)}")
        return response.json()

    def upload(self, image_id: str, path: Path) -> None:
        with open(path, "rb") as data:
            response = self.service.request(
                "PUT",
                f"/v2/images/{image_id}/file",
                content=iter(lambda: data.read(CHUNK), b""),
                headers={"Content-Type": "application/octet-stream"},
            )
        if response.status_code != 204:
            raise ImageError(f"Cannot upload image {image_id}: {error_message(response)}")

    def delete(self, image_id: str) -> None:
        response = self.service.request("DELETE", f"/v2/images/{image_id}")
        if response.status_code not in (204, 404):
            raise ImageError(f"Cannot delete image {image_id}: {error_message(response)}")
