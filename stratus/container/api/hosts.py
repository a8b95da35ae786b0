"""``/v1/hosts`` and ``/v1/services``: the container agents, for admins; and the
availability zones they are in, for everyone."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from stratus.container.api import views
from stratus.container.api.common import base_url, service
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import NotFound
from stratus.runtime.api.routing import Router

router = Router(prefix="/v1")
Caller = Depends(authenticated)


@router.get("/hosts")
def list_hosts(request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    base = base_url(request)
    hosts = [views.host(row, base, used, up) for row, used, up in service(request).hosts(ctx)]
    return {"hosts": hosts, "next": None}


@router.get("/hosts/{ident}")
def show_host(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    for row, used, up in service(request).hosts(ctx):
        if ident in (row.uuid, row.hostname):
            return views.host(row, base_url(request), used, up)
    raise NotFound(f"Host {ident} could not be found.")


@router.get("/services")
def list_services(request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    service(request).policy.enforce(ctx, "service:get")
    return {"services": [views.service(row, up) for row, _, up in service(request).hosts(ctx)]}


@router.get("/availability_zones")
def list_zones(request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    zones = service(request).zones(ctx)
    return {"availability_zones": [{"availability_zone": zone} for zone in zones]}
