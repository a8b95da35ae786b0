"""``/v2.0/agents`` (admins: what the agents' heartbeats reported) and
``/v2.0/availability_zones`` (everyone: the zones the DHCP and L3 agents make up)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stratus.network import agents, models, policy
from stratus.network.api.common import Body, boolean, fields_of, select_fields
from stratus.network.backend import Backend
from stratus.network.errors import not_found
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.api.validation import json_body

router = Router()
AGENT_FILTERS = ("agent_type", "binary", "host", "topic", "availability_zone")


class AgentUpdate(Body):
    admin_state_up: bool | None = None
    description: str | None = Field(None, max_length=models.NAME)


class UpdateRequest(BaseModel):
    agent: AgentUpdate


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def render(agent: models.Agent, down_time: int) -> dict[str, Any]:
    return {
        "id": agent.id,
        "agent_type": agent.agent_type,
        "binary": agent.binary,
        "topic": agent.topic,
        "host": agent.host,
        "availability_zone": agent.availability_zone,
        "admin_state_up": agent.admin_state_up,
        "alive": agents.is_alive(agent, down_time),
        "configurations": dict(agent.configurations),
        "description": agent.description,
        "created_at": _time(agent.created_at),
        "started_at": _time(agent.started_at),
        "heartbeat_timestamp": _time(agent.heartbeat_timestamp),
        "resources_synced": None,
    }


@router.get("/v2.0/agents")
def list_agents(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    policy.enforce(ctx, "get_agent")
    params = request.query_params
    unknown = set(params) - {*AGENT_FILTERS, "alive", "admin_state_up", "fields"}
    if unknown:
        raise BadRequest(
            f"[{', '.join(sorted(unknown))}] is invalid attribute for filtering.",
            error_type="HTTPBadRequest",
        )
    stmt = sa.select(models.Agent).order_by(models.Agent.host, models.Agent.agent_type)
    for key in AGENT_FILTERS:
        if key in params:
            stmt = stmt.where(getattr(models.Agent, key).in_(params.getlist(key)))
    if "admin_state_up" in params:
        stmt = stmt.where(models.Agent.admin_state_up == boolean(params["admin_state_up"]))
    alive = boolean(params["alive"]) if "alive" in params else None

    def work(session: Session) -> list[dict[str, Any]]:
        rendered = [render(a, be.agent_down_time) for a in session.scalars(stmt)]
        return [a for a in rendered if alive is None or a["alive"] == alive]

    fields = fields_of(request)
    return {"agents": [select_fields(a, fields) for a in be.transaction(work)]}


def _find(session: Session, agent_id: str) -> models.Agent:
    agent = session.get(models.Agent, agent_id)
    if agent is None:
        raise not_found("Agent", agent_id)
    return agent


@router.get("/v2.0/agents/{agent_id}")
def show_agent(
    agent_id: str, ctx: RequestContext = Depends(authenticated), be: Backend = Depends(app_backend)
) -> dict[str, Any]:
    policy.enforce(ctx, "get_agent")
    return {"agent": be.transaction(lambda s: render(_find(s, agent_id), be.agent_down_time))}


@router.put("/v2.0/agents/{agent_id}")
def update_agent(
    agent_id: str,
    body: UpdateRequest = Depends(json_body(UpdateRequest)),
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    policy.enforce(ctx, "update_agent")

    def work(session: Session) -> dict[str, Any]:
        agent = _find(session, agent_id)
        if body.agent.admin_state_up is not None:
            agent.admin_state_up = body.agent.admin_state_up
        if body.agent.description is not None:
            agent.description = body.agent.description
        session.flush()
        return render(agent, be.agent_down_time)

    return {"agent": be.transaction(work)}


@router.delete("/v2.0/agents/{agent_id}", status_code=204)
def delete_agent(
    agent_id: str, ctx: RequestContext = Depends(authenticated), be: Backend = Depends(app_backend)
) -> Response:
    policy.enforce(ctx, "delete_agent")
    be.transaction(lambda s: s.delete(_find(s, agent_id)))
    return Response(status_code=204)


@router.get("/v2.0/availability_zones")
def list_zones(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    be: Backend = Depends(app_backend),
) -> dict[str, Any]:
    params = request.query_params
    filters = {
        "name": params.getlist("name") or params.getlist("availability_zone"),
        "resource": params.getlist("resource"),
        "state": params.getlist("state"),
    }
    unknown = set(params) - {"name", "availability_zone", "resource", "state", "fields"}
    if unknown:
        raise BadRequest(
            f"[{', '.join(sorted(unknown))}] is invalid attribute for filtering.",
            error_type="HTTPBadRequest",
        )
    zones = be.transaction(lambda s: agents.availability_zones(s, be.agent_down_time))
    chosen = [z for z in zones if all(not v or z[k] in v for k, v in filters.items())]
    fields = fields_of(request)
    return {"availability_zones": [select_fields(z, fields) for z in chosen]}
