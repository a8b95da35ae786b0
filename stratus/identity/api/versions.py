"""Version discovery: ``/`` lists the API versions (300 Multiple Choices) and ``/v3``
describes the one there is, in the shapes keystoneauth's discovery reads."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from stratus.runtime.api.routing import Router

router = Router()

VERSION_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def _version(request: Request) -> dict[str, Any]:
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": str(request.base_url).rstrip("/") + "/v3/"}],
        "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
    }


@router.get("/", summary="List the API versions")
def versions(request: Request) -> JSONResponse:
    return JSONResponse({"versions": {"values": [_version(request)]}}, status_code=300)


@router.get("/v3", summary="Describe the v3 API")
@router.get("/v3/", include_in_schema=False)
def version(request: Request) -> dict[str, Any]:
    return {"version": _version(request)}
