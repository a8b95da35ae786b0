"""Container images in the image service: look one up by id or name, fetch its data,
and record a committed container as a new one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx

from stratus.runtime.api.errors import BadRequest, NotFound, ServiceUnavailable
from stratus.runtime.http import new_client

_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ImageClient:
    """The image API (Glance v2) seen with a given token."""

    def __init__(self, url: str, http: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = http or new_client(timeout=60)

    def find(self, ref: str, token: str) -> dict[str, Any]:
        """The active ``docker`` image named or identified by ``ref``, as the caller sees it."""
        headers = {"X-Auth-Token": token}
        if _UUID.match(ref):
            response = self._get(f"/v2/images/{ref}", headers)
            found = [response.json()] if response.status_code == 200 else []
        else:
            response = self._get("/v2/images", headers, params={"name": ref})
            found = response.json().get("images", []) if response.status_code == 200 else []
        if response.status_code >= 500:
            raise ServiceUnavailable(f"The image service failed ({response.status_code}).")
        if not found:
            raise NotFound(f"Image {ref} could not be found.")
        if len(found) > 1:
            raise BadRequest(f"Multiple images are named {ref}; use the image id.")
        image = found[0]
        if image.get("container_format") != "docker" or image.get("status") != "active":
            raise BadRequest(f"Image {ref} is not an active image of container format docker.")
        return image

    def download(self, image_id: str, token: str) -> Iterator[bytes]:
        """The image's data, streamed."""
        url = f"{self.url}/v2/images/{image_id}/file"
        with self.http.stream("GET", url, headers={"X-Auth-Token": token}) as response:
            if response.status_code != 200:
                raise NotFound(f"Image {image_id} has no data ({response.status_code}).")
            yield from response.iter_bytes(1024 * 1024)

    def create(self, name: str, tag: str, token: str) -> str:
        """A new queued docker image in the caller's project; its id."""
        body = {"name": name, "tags": [tag], "container_format": "docker", "disk_format": "raw"}
        try:
            response = self.http.post(
                f"{self.url}/v2/images", json=body, headers={"X-Auth-Token": token}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"The image service is unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(f"The image service failed ({response.status_code}).")
        if response.status_code != 201:
            raise BadRequest(f"The image service refused the image: {response.text}")
        return response.json()["id"]

    def upload(self, image_id: str, data: Iterator[bytes], token: str) -> None:
        """Stream ``data`` as the image's data; raises if the image service refuses."""
        headers = {"X-Auth-Token": token, "Content-Type": "application/octet-stream"}
        url = f"{self.url}/v2/images/{image_id}/file"
        response = self.http.put(url, content=data, headers=headers)
        if response.status_code != 204:
            raise RuntimeError(f"The image service refused the data ({response.status_code}).")

    def delete(self, image_id: str, token: str) -> None:
        self.http.delete(f"{self.url}/v2/images/{image_id}", headers={"X-Auth-Token": token})

    def _get(self, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        try:
            return self.http.get(self.url + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"The image service is unreachable: {exc}") from exc
