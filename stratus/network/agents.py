"""Agents as the server knows them: rows kept fresh by their heartbeats, whether they
are alive, the availability zones they make up, and which DHCP or L3 agent serves a
network or a router."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.network import models
from stratus.network.ml2.mechanism import LINUXBRIDGE_AGENT
from stratus.runtime.api.errors import BadRequest
from stratus.runtime.db import utcnow

L2_AGENT = LINUXBRIDGE_AGENT
DHCP_AGENT = "DHCP agent"
L3_AGENT = "L3 agent"
# The resource an agent type's availability zones are zones of.
ZONE_RESOURCES = {DHCP_AGENT: "network", L3_AGENT: "router"}
DEFAULT_ZONE = "nova"


def is_alive(agent: models.Agent, down_time: int) -> bool:
    return agent.heartbeat_timestamp >= utcnow() - timedelta(seconds=down_time)


def usable(agent: models.Agent, down_time: int) -> bool:
    return agent.admin_state_up and is_alive(agent, down_time)


def record_heartbeat(session: Session, state: dict[str, Any]) -> models.Agent:
    """Create or refresh the agent a heartbeat describes. ``start_flag`` marks the first
    heartbeat after the agent (re)started."""
    missing = [key for key in ("agent_type", "binary", "topic", "host") if not state.get(key)]
    if missing:
        raise BadRequest(f"An agent state needs {', '.join(missing)}.")
    now = utcnow()
    agent = session.scalar(
        sa.select(models.Agent).where(
            models.Agent.agent_type == state["agent_type"], models.Agent.host == state["host"]
        )
    )
    if agent is None:
        agent = models.Agent(agent_type=state["agent_type"], host=state["host"], created_at=now)
        agent.started_at = now
        session.add(agent)
    elif state.get("start_flag"):
        agent.started_at = now
    agent.binary = state["binary"]
    agent.topic = state["topic"]
    agent.configurations = dict(state.get("configurations") or {})
    if state["agent_type"] in ZONE_RESOURCES:
        agent.availability_zone = state.get("availability_zone") or DEFAULT_ZONE
    agent.heartbeat_timestamp = now
    session.flush()
    return agent


def on_host(session: Session, host: str, down_time: int) -> list[models.Agent]:
    """The usable agents of a host."""
    rows = session.scalars(sa.select(models.Agent).where(models.Agent.host == host))
    return [agent for agent in rows if usable(agent, down_time)]


def availability_zones(session: Session, down_time: int) -> list[dict[str, str]]:
    """Zones as the DHCP (network) and L3 (router) agents in them make them up: available
    while one of their agents is usable."""
    zones: dict[tuple[str, str], bool] = {}
    rows = session.scalars(
        sa.select(models.Agent).where(models.Agent.agent_type.in_(ZONE_RESOURCES))
    )
    for agent in rows:
        key = (agent.availability_zone or DEFAULT_ZONE, ZONE_RESOURCES[agent.agent_type])
        zones[key] = zones.get(key, False) or usable(agent, down_time)
    return [
        {"name": name, "resource": resource, "state": "available" if up else "unavailable"}
        for (name, resource), up in sorted(zones.items())
    ]


def zone_names(session: Session, resource: str) -> set[str]:
    agent_type = next(t for t, r in ZONE_RESOURCES.items() if r == resource)
    return {
        zone or DEFAULT_ZONE
        for zone in session.scalars(
            sa.select(models.Agent.availability_zone).where(models.Agent.agent_type == agent_type)
        )
    }


def hosting_zones(
    session: Session, binding: type[models.Base], key: Any, ids: list[str]
) -> dict[str, list[str]]:
    """The zones of the agents serving each of ``ids`` (networks or routers)."""
    rows = session.execute(
        sa.select(key, models.Agent.availability_zone)
        .join(models.Agent, models.Agent.id == binding.agent_id)  # type: ignore[attr-defined]
        .where(key.in_(ids))
    )
    zones: dict[str, list[str]] = {}
    for resource_id, zone in rows:
        zones.setdefault(resource_id, []).append(zone or DEFAULT_ZONE)
    return zones


Binding = models.NetworkDhcpAgent | models.RouterL3Agent
BindingTable = type[models.NetworkDhcpAgent] | type[models.RouterL3Agent]


def bindings(session: Session, binding: BindingTable, ids: Iterable[str]) -> dict[str, Binding]:
    """The bindings of the networks or routers ``ids`` (those that have one), by id."""
    column = getattr(binding, _key(binding))
    rows = session.scalars(sa.select(binding).where(column.in_(list(ids))))
    return {getattr(row, _key(binding)): row for row in rows}


def claim(
    session: Session,
    agent: models.Agent,
    binding: BindingTable,
    resource_id: str,
    current: Binding | None,
    hints: list[str],
    down_time: int,
) -> bool:
    """Whether ``agent`` serves the network or router: it does if it is bound to it, or
    takes it over when no usable agent is (and the agent's zone fits the hints).
    ``current`` is the resource's binding (None: it has none), which the caller read."""
    if current is not None and current.agent_id == agent.id:
        return True
    if hints and (agent.availability_zone or DEFAULT_ZONE) not in hints:
        return False
    if current is None:
        session.add(binding(agent_id=agent.id, **{_key(binding): resource_id}))
        session.flush()
        return True
    holder = session.get(models.Agent, current.agent_id)
    if holder is not None and usable(holder, down_time):
        return False
    current.agent_id = agent.id
    return True


def _key(binding: type[models.Base]) -> str:
    return "network_id" if binding is models.NetworkDhcpAgent else "router_id"
