"""os-server-external-events: what other services tell the compute service about its
servers. The network service sends ``network-changed`` (tagged with a port) when a
floating IP comes to or leaves one of a server's ports; the server's floating IPs are
then read again from the network API, which stays their only source of truth."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from stratus.compute import floating_ips
from stratus.compute.api.common import PREFIX, Backend, at_least, transaction
from stratus.compute.models import Instance
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router(prefix=PREFIX + "/os-server-external-events")

# The event names each microversion knows, from the one that brought them.
NAMES_SINCE = {
    "network-changed": "2.1",
    "network-vif-plugged": "2.1",
    "network-vif-unplugged": "2.1",
    "network-vif-deleted": "2.1",
    "volume-extended": "2.51",
    "power-update": "2.76",
}
# Events after which the server's floating IPs on the tagged port (or all its ports)
# are read again.
NETWORK_EVENTS = frozenset({"network-changed", "network-vif-deleted"})


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    server_uuid: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    status: Literal["failed", "completed", "in-progress"] = "completed"
    tag: Annotated[str, StringConstraints(max_length=255)] | None = None


class EventsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[Event] = Field(min_length=1)


@router.post("", summary="Run events on servers (for other services)")
def create_events(
    request: Request,
    body: EventsBody = Depends(json_body(EventsBody)),
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> JSONResponse:
    api.policy.enforce(ctx, "server_external_events:create")
    for event in body.events:
        since = NAMES_SINCE.get(event.name)
        if since is None or not at_least(request, since):
            raise BadRequest(f"Invalid input: unknown event name {event.name!r}.")
    with transaction(request) as session:
        found = dict(
            session.execute(
                sa.select(Instance.uuid, Instance.network_info).where(
                    Instance.uuid.in_({e.server_uuid for e in body.events}),
                    Instance.deleted.is_(False),
                )
            ).all()
        )
    if not found:
        raise NotFound("No instances found for any event.")
    refresh: dict[str, str] = {}  # port id -> its server, whose floating IPs are read again
    answered = []
    for event in body.events:
        code = 200 if event.server_uuid in found else 404
        if code == 200 and event.name in NETWORK_EVENTS:
            ports = (
                [event.tag] if event.tag else [v["port_id"] for v in found[event.server_uuid] or []]
            )
            refresh.update(dict.fromkeys(ports, event.server_uuid))
        answered.append(
            {
                **event.model_dump(exclude_none=True),
                "code": code,
                "status": event.status if code == 200 else "failed",
            }
        )
    if refresh:
        floating_ips.refresh(api.db, api.network, refresh)
    status = 200 if all(e["code"] == 200 for e in answered) else 207
    return JSONResponse({"events": answered}, status_code=status)
