"""A server's remote console: ``POST /servers/{id}/remote-consoles`` (from 2.6) and the
older ``os-getSerialConsole`` action (with its VNC, SPICE and RDP siblings).

This cloud offers the serial console: the other kinds are refused with a 400, as Nova
refuses a console type it has not enabled. The server's agent says where its serial
port listens and which serial proxy reaches it; the client gets that proxy's websocket
URL with a single-use token that expires (see :mod:`stratus.compute.consoles`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from stratus.compute import consoles, records, states
from stratus.compute.api.common import PREFIX, at_least, backend, transaction
from stratus.compute.api.server_access import authorize, call_agent, find_server
from stratus.compute.api.server_actions import CONSOLE_TIMEOUT, Handler, Strict, action
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, Conflict, NotFound
from stratus.runtime.api.routing import Router
from stratus.runtime.api.validation import json_body

router = Router(prefix=PREFIX + "/servers/{server_id}/remote-consoles")

# The console types of each protocol, as Nova names them.
TYPES = {
    "vnc": ("novnc", "xvpvnc"),
    "spice": ("spice-html5",),
    "rdp": ("rdp-html5",),
    "serial": ("serial",),
    "mks": ("webmks",),
}
LEGACY_ACTIONS = {
    "os-getVNCConsole": "vnc",
    "os-getSPICEConsole": "spice",
    "os-getRDPConsole": "rdp",
    "os-getSerialConsole": "serial",
}


class RemoteConsole(Strict):
    protocol: Literal["vnc", "spice", "rdp", "serial", "mks"]
    type: Literal["novnc", "xvpvnc", "spice-html5", "rdp-html5", "serial", "webmks"]


class RemoteConsoleBody(Strict):
    remote_console: RemoteConsole


class LegacyConsole(Strict):
    type: str


def _since_2_6(request: Request) -> None:
    if not at_least(request, "2.6"):
        raise NotFound("The resource could not be found.")


@router.post("", summary="A URL of a server's console (the serial console)")
def create_remote_console(
    server_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    _version: None = Depends(_since_2_6),
    body: RemoteConsoleBody = Depends(json_body(RemoteConsoleBody)),
) -> dict[str, Any]:
    console = body.remote_console
    if console.protocol == "mks" and not at_least(request, "2.8"):
        raise BadRequest("Invalid input: protocol 'mks' needs microversion 2.8 or later.")
    url = console_url(request, ctx, server_id, console.protocol, console.type)
    return {"remote_console": {"protocol": console.protocol, "type": console.type, "url": url}}


def _legacy(protocol: str) -> Handler:
    def handler(request: Request, ctx: RequestContext, server_id: str, body: Any) -> Response:
        url = console_url(request, ctx, server_id, protocol, body.type)
        return JSONResponse({"console": {"type": body.type, "url": url}})

    return handler


for _name, _protocol in LEGACY_ACTIONS.items():
    action(_name, LegacyConsole)(_legacy(_protocol))


def console_url(
    request: Request, ctx: RequestContext, server_id: str, protocol: str, console_type: str
) -> str:
    """The websocket URL of the running server's serial console, with a new token."""
    if console_type not in TYPES[protocol]:
        raise BadRequest(f"Invalid console type {console_type}")
    if protocol != "serial":
        raise BadRequest(f"Unavailable console type {console_type}.")
    api = backend(request)
    with transaction(request) as session:
        instance = find_server(session, ctx, server_id)
        authorize(api, ctx, instance, "servers:write")
        if instance.vm_state != states.ACTIVE or instance.task_state == states.DELETING:
            status = states.status(instance.vm_state, instance.task_state)
            raise Conflict(f"Instance {instance.uuid} is not ready (it is {status}).")
        server = records.wire(instance)
    console = call_agent(
        request,
        server,
        "get_serial_console",
        failed=f"The serial console of instance {server_id} is not available",
        timeout=CONSOLE_TIMEOUT,
    )
    ttl = api.conf.consoleauth.token_ttl
    with transaction(request) as session:
        token = consoles.issue(session, server["uuid"], server["host"], console, ttl)
    return consoles.url(console["base_url"], token)
