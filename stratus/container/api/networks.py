"""A container's networks and security groups: ``network_attach``, ``network_detach``,
``network_list``, ``add_security_group`` and ``remove_security_group`` under
``/v1/containers/{id}`` (``openstack appcontainer network ...`` and ``... security group``).

Zun serves the security group actions up to microversion 1.14 only; here they are served
at every version, since python-zunclient's CLI still sends them at its newest one.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from stratus.container.api import views
from stratus.container.api.common import service, version
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotAcceptable
from stratus.runtime.api.routing import Router

router = Router(prefix="/v1/containers")
Caller = Depends(authenticated)


def _since(request: Request, minimum: str, what: str) -> None:
    if not version(request).matches(minimum):
        raise NotAcceptable(f"{what} needs API microversion {minimum} or later.")


def _query(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


@router.post("/{ident}/network_attach", status_code=202)
def network_attach(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    _since(request, "1.8", "network_attach")
    network, port, ip = (_query(request, k) for k in ("network", "port", "fixed_ip"))
    service(request).network_attach(ctx, ident, network, port, ip)
    return Response(status_code=202)


@router.post("/{ident}/network_detach", status_code=202)
def network_detach(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    _since(request, "1.6", "network_detach")
    network, port = _query(request, "network"), _query(request, "port")
    service(request).network_detach(ctx, ident, network, port)
    return Response(status_code=202)


@router.get("/{ident}/network_list")
def network_list(ident: str, request: Request, ctx: RequestContext = Caller) -> dict[str, Any]:
    _since(request, "1.13", "network_list")
    nets = service(request).network_list(ctx, ident)
    return {"networks": views.networks(nets, version(request))}


def _group(request: Request) -> str:
    name = _query(request, "name")
    if name is None:
        raise BadRequest("Query parameter name (the security group) is required.")
    return name


@router.post("/{ident}/add_security_group", status_code=202)
def add_security_group(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    service(request).add_security_group(ctx, ident, _group(request))
    return Response(status_code=202)


@router.post("/{ident}/remove_security_group", status_code=202)
def remove_security_group(ident: str, request: Request, ctx: RequestContext = Caller) -> Response:
    service(request).remove_security_group(ctx, ident, _group(request))
    return Response(status_code=202)
