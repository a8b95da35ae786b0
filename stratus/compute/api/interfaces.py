"""os-interface: a server's ports, and ports plugged into or out of a server that runs
or is stopped (``openstack server add/remove port|network``).

An attach is checked with the caller's token as a create's networks are (a network or
port the caller cannot see does not exist for it, a port in use is a 409) before the
server's agent makes or binds the port and hot plugs it; the answer waits for that, as
Nova's does. A detach has the agent unplug the port, then delete it if the server made
it or let it go if it was given.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from stratus.compute import records, states
from stratus.compute.api import networks
from stratus.compute.api.common import PREFIX, Backend, at_least, backend, request_id, transaction
from stratus.compute.api.server_access import (
    authorize,
    call_agent,
    check_unlocked,
    find_server,
    state_conflict,
)
from stratus.compute.api.server_actions import Strict
from stratus.compute.api.servers import Tag
from stratus.compute.models import Instance
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body
from stratus.runtime.clients.catalog import ServiceNotInCatalog

router = Router(prefix=PREFIX + "/servers/{server_id}/os-interface")

# Making a port and waiting for the L2 agent to wire it, or for the guest to let go of it.
HOTPLUG_TIMEOUT = 120.0
# A paused guest gets a NIC (it finds it when it runs again) but cannot give one back:
# the unplug waits for the guest to acknowledge it.
ATTACHABLE = (states.ACTIVE, states.PAUSED, states.STOPPED)
DETACHABLE = (states.ACTIVE, states.STOPPED)


class FixedIp(Strict):
    ip_address: str


class Attachment(Strict):
    port_id: str | None = None
    net_id: str | None = None
    fixed_ips: Annotated[list[FixedIp], Field(min_length=1, max_length=1)] | None = None
    tag: Tag | None = None


class AttachBody(Strict):
    interfaceAttachment: Attachment = Field(default_factory=Attachment)  # noqa: N815


def _view(request: Request, port: dict[str, Any], tag: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "port_id": port["id"],
        "net_id": port["network_id"],
        "mac_addr": port.get("mac_address"),
        "port_state": port.get("status"),
        "fixed_ips": [
            {"subnet_id": ip.get("subnet_id"), "ip_address": ip["ip_address"]}
            for ip in port.get("fixed_ips", [])
        ],
    }
    if at_least(request, "2.70"):
        body["tag"] = tag
    return body


def _tags(instance: Instance) -> dict[str, str | None]:
    return {vif["port_id"]: vif.get("tag") for vif in instance.network_info or []}


def _readable(request: Request, session: Session, ctx: RequestContext, server_id: str) -> Instance:
    instance = find_server(session, ctx, server_id)
    authorize(backend(request), ctx, instance, "servers:read")
    return instance


def _changeable(
    request: Request,
    session: Session,
    ctx: RequestContext,
    server_id: str,
    action: str,
    allowed: tuple[str, ...],
) -> Instance:
    """The server, if the caller may change it and it is in an ``allowed`` state with no
    task."""
    api = backend(request)
    instance = find_server(session, ctx, server_id)
    authorize(api, ctx, instance, "servers:write")
    check_unlocked(api, ctx, instance)
    if instance.vm_state not in allowed or instance.task_state is not None:
        raise state_conflict(instance, action)
    return instance


@router.get("", summary="A server's ports")
def list_interfaces(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    with transaction(request) as session:
        instance = _readable(request, session, ctx, server_id)
        tags = _tags(instance)
    try:
        ports = api.network.ports_of(instance.uuid)
    except ServiceNotInCatalog:
        ports = []
    return {"interfaceAttachments": [_view(request, p, tags.get(p["id"])) for p in ports]}


@router.get("/{port_id}", summary="One port of a server")
def show_interface(
    server_id: str,
    port_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    with transaction(request) as session:
        instance = _readable(request, session, ctx, server_id)
        tags = _tags(instance)
    port = api.network.show_port(port_id) if port_id in tags else None
    if port is None or port.get("device_id") != instance.uuid:
        raise NotFound(f"Instance {instance.uuid} has no port {port_id}.")
    return {"interfaceAttachment": _view(request, port, tags.get(port_id))}


@router.post("", summary="Plug a port, or a new port on a network, into a server")
def attach_interface(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
    body: AttachBody = Depends(json_body(AttachBody)),
) -> dict[str, Any]:
    asked = _requested(request, body.interfaceAttachment)
    with transaction(request) as session:
        _changeable(request, session, ctx, server_id, "attach_interface", ATTACHABLE)
    external = api.policy.check(ctx, "network:attach_external_network")
    item = networks.resolve_one(api.network, ctx, asked, external=external)
    if body.interfaceAttachment.tag:
        item["tag"] = body.interfaceAttachment.tag
    with transaction(request) as session:  # checked again: the network service took time
        instance = _changeable(request, session, ctx, server_id, "attach_interface", ATTACHABLE)
        records.start_action(
            session,
            instance.uuid,
            "attach_interface",
            request_id(request),
            ctx.user_id,
            ctx.project_id,
        )
        server = records.wire(instance)
    vif = call_agent(
        request,
        server,
        "attach_interface",
        failed=f"Failed to attach an interface to instance {server_id}",
        timeout=HOTPLUG_TIMEOUT,
        item=item,
        request_id=request_id(request),
    )
    port = api.network.show_port(vif["port_id"]) or {
        "id": vif["port_id"],
        "network_id": vif["network_id"],
        "mac_address": vif["mac_address"],
        "fixed_ips": vif["fixed_ips"],
    }
    return {"interfaceAttachment": _view(request, port, vif.get("tag"))}


def _requested(request: Request, attachment: Attachment) -> dict[str, Any]:
    """The attach as a create's network entry: ``{"uuid", "port", "fixed_ip"}``."""
    if attachment.tag is not None and not at_least(request, "2.49"):
        raise BadRequest("Invalid input: 'interfaceAttachment.tag' is not an allowed field")
    if attachment.port_id and attachment.net_id:
        raise BadRequest("Must not input both network_id and port_id")
    if attachment.fixed_ips and not attachment.net_id:
        raise BadRequest("Must input network_id when request IP address")
    for name in ("port_id", "net_id"):
        value = getattr(attachment, name)
        if value is not None:
            try:
                uuid_module.UUID(value)
            except ValueError as exc:
                raise BadRequest(
                    f"Invalid input for interfaceAttachment.{name}: {value!r} is not a UUID."
                ) from exc
    asked: dict[str, Any] = {}
    if attachment.port_id:
        asked["port"] = attachment.port_id
    if attachment.net_id:
        asked["uuid"] = attachment.net_id
    if attachment.fixed_ips:
        asked["fixed_ip"] = attachment.fixed_ips[0].ip_address
    return asked


@router.delete("/{port_id}", status_code=202, summary="Unplug a port from a server")
def detach_interface(
    server_id: str,
    port_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
) -> Response:
    with transaction(request) as session:
        instance = _changeable(request, session, ctx, server_id, "detach_interface", DETACHABLE)
        if port_id not in _tags(instance):
            raise NotFound(f"Port {port_id} is not attached to instance {instance.uuid}.")
        records.start_action(
            session,
            instance.uuid,
            "detach_interface",
            request_id(request),
            ctx.user_id,
            ctx.project_id,
        )
        server = records.wire(instance)
    call_agent(
        request,
        server,
        "detach_interface",
        failed=f"Failed to detach port {port_id} from instance {server_id}",
        timeout=HOTPLUG_TIMEOUT,
        port_id=port_id,
        request_id=request_id(request),
    )
    return Response(status_code=202)
