"""Version discovery: the catalog lists the image service without a version path, and
keystoneauth asks ``/`` which versions live there (Glance answers 300 Multiple Choices)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from stratus.runtime.api.routing import Router

router = Router()

CURRENT = 7  # v2.7: image upload and download, sharing, os_hidden and secure hashes
SUPPORTED = range(CURRENT, -1, -1)


def versions(request: Request) -> dict[str, Any]:
    href = f"{str(request.base_url).rstrip('/')}/v2/"
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == CURRENT else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in SUPPORTED
        ]
    }


@router.get("/", status_code=300)
def root(request: Request) -> JSONResponse:
    return JSONResponse(versions(request), status_code=300)


@router.get("/versions")
def list_versions(request: Request) -> dict[str, Any]:
    return versions(request)
