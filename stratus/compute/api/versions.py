"""Version discovery, as keystoneauth reads it: ``/`` lists the versions, ``/v2.1``
describes the one the catalog names, with its microversion range."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from stratus.compute.api.common import MAX_VERSION, MIN_VERSION, PREFIX, base_url
from stratus.runtime.api.routing import Router

router = Router()

UPDATED = "2013-07-23T11:33:21Z"
MEDIA_TYPE = "application/vnd.openstack.compute+json;version=2.1"


def _version(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}{PREFIX}/"}],
    }


@router.get("/", summary="The API versions this service offers")
def list_versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request)]}


@router.get(PREFIX, summary="The v2.1 API and its microversions")
@router.get(PREFIX + "/", include_in_schema=False)
def show_version(request: Request) -> dict[str, Any]:
    version = _version(request)
    version["links"].append(
        {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
    )
    version["media-types"] = [{"base": "application/json", "type": MEDIA_TYPE}]
    return {"version": version}
