"""Version discovery: ``/`` lists v1 with its microversion range; ``/v1`` describes it."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from stratus.runtime.api.routing import Router

MIN_VERSION = "1.1"
MAX_VERSION = "1.40"  # python-zunclient's newest; the behaviour of each is as of 1.40

router = Router()


def _v1(base: str) -> dict[str, Any]:
    return {
        "id": "v1",
        "links": [{"href": f"{base}/v1/", "rel": "self"}],
        "status": "CURRENT",
        "min_version": MIN_VERSION,
        "max_version": MAX_VERSION,
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/", include_in_schema=False)
def root(request: Request) -> dict[str, Any]:
    v1 = _v1(_base(request))
    return {
        "name": "OpenStack Zun API",
        "description": "Stratus container service (Zun v1).",
        "versions": [v1],
        "default_version": v1,
    }


@router.get("/v1", include_in_schema=False)
@router.get("/v1/", include_in_schema=False)
def v1(request: Request) -> dict[str, Any]:
    base = _base(request)
    return {
        **_v1(base),
        "media_types": [
            {"base": "application/json", "type": "application/vnd.openstack.zun.v1+json"}
        ],
        "containers": [
            {"href": f"{base}/v1/containers/", "rel": "self"},
            {"href": f"{base}/containers/", "rel": "bookmark"},
        ],
        "hosts": [{"href": f"{base}/v1/hosts/", "rel": "self"}],
        "services": [{"href": f"{base}/v1/services/", "rel": "self"}],
        "quotas": [{"href": f"{base}/v1/quotas/", "rel": "self"}],
    }
