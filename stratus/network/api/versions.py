"""``/`` (the versions document clients discover ``/v2.0/`` through, unauthenticated)
and ``/v2.0/`` (the resources of v2.0)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.routing import Router

router = Router()
RESOURCES = (
    ("network", "networks"),
    ("subnet", "subnets"),
    ("subnetpool", "subnetpools"),
    ("port", "ports"),
)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    href = f"{_base(request)}/v2.0/"
    return {
        "versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}]
    }


@router.get("/v2.0")
@router.get("/v2.0/")
def resources(request: Request, ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
    return {
        "resources": [
            {
                "name": name,
                "collection": plural,
                "links": [{"href": f"{_base(request)}/v2.0/{plural}", "rel": "self"}],
            }
            for name, plural in RESOURCES
        ]
    }
