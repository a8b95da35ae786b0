"""os-hypervisors: each compute node, what it offers and what is used of it; by integer
id, then by uuid from 2.53 (with ``hypervisor_hostname_pattern`` and ``with_servers``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from stratus.compute.api.common import (
    PREFIX,
    Backend,
    at_least,
    backend,
    check_query,
    next_link,
    query_bool,
    transaction,
)
from stratus.compute.conductor.manager import AGENT_TOPIC
from stratus.compute.models import ComputeNode, Instance, Service
from stratus.compute.records import instance_name
from stratus.compute.scheduler.hosts import service_is_up
from stratus.compute.services import AGENT
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import BadRequest, NotFound, ServiceUnavailable
from stratus.runtime.api.pagination import page_params, paginate
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.bus import BusError

router = Router(prefix=PREFIX + "/os-hypervisors")

UPTIME_TIMEOUT = 10.0
LIST_QUERY = {"limit", "marker", "hypervisor_hostname_pattern", "with_servers"}


class _Context:
    """Services and servers of the nodes a response shows, loaded once."""

    def __init__(
        self, request: Request, session: Session, nodes: list[ComputeNode], with_servers: bool
    ) -> None:
        self.request = request
        self.down_time = backend(request).conf.compute.service_down_time
        hosts = {node.host for node in nodes}
        self.services = {
            s.host: s
            for s in session.scalars(
                sa.select(Service).where(Service.binary == AGENT[0], Service.host.in_(hosts))
            )
        }
        self.with_servers = with_servers
        self.servers = _servers_of(session, nodes)

    def summary(self, node: ComputeNode) -> dict[str, Any]:
        service = self.services.get(node.host)
        body: dict[str, Any] = {
            "id": node.uuid if at_least(self.request, "2.53") else node.id,
            "hypervisor_hostname": node.hypervisor_hostname,
            "state": "up" if service and service_is_up(service, self.down_time) else "down",
            "status": "disabled" if service is None or service.disabled else "enabled",
        }
        servers = self.servers.get(node.hypervisor_hostname, [])
        if self.with_servers and (servers or at_least(self.request, "2.75")):
            body["servers"] = servers
        return body

    def detail(self, node: ComputeNode) -> dict[str, Any]:
        service = self.services.get(node.host)
        memory_used = node.memory_mb_used + node.reserved_memory_mb
        disk_used = node.local_gb_used + node.reserved_disk_gb
        new_ids = at_least(self.request, "2.53")
        body = self.summary(node)
        body.update(
            {
                "cpu_info": node.cpu_info
                if at_least(self.request, "2.28")
                else json.dumps(node.cpu_info),
                "current_workload": 0,
                "disk_available_least": node.local_gb - disk_used,
                "host_ip": node.host_ip,
                "free_disk_gb": node.local_gb - disk_used,
                "free_ram_mb": node.memory_mb - memory_used,
                "hypervisor_type": node.hypervisor_type,
                "hypervisor_version": node.hypervisor_version,
                "local_gb": node.local_gb,
                "local_gb_used": disk_used,
                "memory_mb": node.memory_mb,
                "memory_mb_used": memory_used,
                "running_vms": len(self.servers.get(node.hypervisor_hostname, [])),
                "vcpus": node.vcpus,
                "vcpus_used": node.vcpus_used,
                "service": {
                    "host": node.host,
                    "id": (service.uuid if new_ids else service.id) if service else None,
                    "disabled_reason": service.disabled_reason if service else None,
                },
            }
        )
        return body


def _with_servers(request: Request) -> bool:
    raw = request.query_params.get("with_servers")
    return at_least(request, "2.53") and raw is not None and query_bool("with_servers", raw)


def _list(request: Request, detail: bool) -> dict[str, Any]:
    query = request.query_params
    new_ids = at_least(request, "2.53")
    if at_least(request, "2.75"):
        check_query(query, LIST_QUERY)
    stmt = sa.select(ComputeNode)
    pattern = query.get("hypervisor_hostname_pattern") if new_ids else None
    if pattern:
        if "marker" in query or "limit" in query:
            raise BadRequest("Paging is not supported with hypervisor_hostname_pattern.")
        stmt = stmt.where(ComputeNode.hypervisor_hostname.contains(pattern, autoescape=True))
    page = page_params(
        query if at_least(request, "2.33") else {},
        sort_keys=("id",),
        default_sort=[("id", "asc")],
        max_limit=backend(request).max_limit,
    )
    if page.marker is not None and not new_ids and not page.marker.isdigit():
        raise BadRequest(f"marker [{page.marker}] not found")
    with transaction(request) as session:
        rows, marker = paginate(
            session, stmt, ComputeNode, page, marker_column="uuid" if new_ids else None
        )
        if pattern and not rows:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
        view = _Context(request, session, rows, _with_servers(request))
        body: dict[str, Any] = {
            "hypervisors": [view.detail(n) if detail else view.summary(n) for n in rows]
        }
    if marker is not None:
        path = "os-hypervisors/detail" if detail else "os-hypervisors"
        body["hypervisors_links"] = next_link(request, path, str(marker))
    return body


@router.get("", summary="List hypervisors")
def list_hypervisors(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    return _list(request, detail=False)


@router.get("/detail", summary="List hypervisors with details")
def list_hypervisors_detail(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    return _list(request, detail=True)


@router.get("/statistics", summary="Totals over every hypervisor")
def statistics(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    with transaction(request) as session:
        nodes = list(session.scalars(sa.select(ComputeNode)))
        running = session.scalar(
            sa.select(sa.func.count())
            .select_from(Instance)
            .where(Instance.node.is_not(None), Instance.deleted.is_(False))
        )
    memory_used = sum(n.memory_mb_used + n.reserved_memory_mb for n in nodes)
    disk_used = sum(n.local_gb_used + n.reserved_disk_gb for n in nodes)
    memory = sum(n.memory_mb for n in nodes)
    disk = sum(n.local_gb for n in nodes)
    return {
        "hypervisor_statistics": {
            "count": len(nodes),
            "vcpus": sum(n.vcpus for n in nodes),
            "vcpus_used": sum(n.vcpus_used for n in nodes),
            "memory_mb": memory,
            "memory_mb_used": memory_used,
            "free_ram_mb": memory - memory_used,
            "local_gb": disk,
            "local_gb_used": disk_used,
            "free_disk_gb": disk - disk_used,
            "disk_available_least": disk - disk_used,
            "current_workload": 0,
            "running_vms": running or 0,
        }
    }


def _find(request: Request, session: Session, hypervisor_id: str) -> ComputeNode:
    if at_least(request, "2.53"):
        try:
            uuid.UUID(hypervisor_id)
        except ValueError as exc:
            raise BadRequest(f"Invalid uuid {hypervisor_id}.") from exc
        node = session.scalar(sa.select(ComputeNode).where(ComputeNode.uuid == hypervisor_id))
    else:
        node = session.get(ComputeNode, int(hypervisor_id)) if hypervisor_id.isdigit() else None
    if node is None:
        raise NotFound(f"Hypervisor with ID '{hypervisor_id}' could not be found.")
    return node


@router.get("/{hypervisor_id}", summary="Show a hypervisor")
def show_hypervisor(
    hypervisor_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    with transaction(request) as session:
        node = _find(request, session, hypervisor_id)
        return {
            "hypervisor": _Context(request, session, [node], _with_servers(request)).detail(node)
        }


@router.get("/{hypervisor_id}/uptime", summary="A hypervisor's uptime")
def hypervisor_uptime(
    hypervisor_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    with transaction(request) as session:
        node = _find(request, session, hypervisor_id)
        body = _Context(request, session, [node], False).summary(node)
    try:
        body["uptime"] = api.bus.call(
            AGENT_TOPIC, "get_host_uptime", host=node.host, timeout=UPTIME_TIMEOUT
        )
    except BusError as exc:
        raise ServiceUnavailable(f"Compute host {node.host} does not answer: {exc}") from exc
    return {"hypervisor": body}


def _matching(request: Request, pattern: str, with_servers: bool) -> dict[str, Any]:
    if at_least(request, "2.53"):
        raise NotFound("The resource could not be found.")
    with transaction(request) as session:
        nodes = list(
            session.scalars(
                sa.select(ComputeNode).where(
                    ComputeNode.hypervisor_hostname.contains(pattern, autoescape=True)
                )
            )
        )
        if not nodes:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
        view = _Context(request, session, nodes, with_servers)
        return {"hypervisors": [view.summary(n) for n in nodes]}


def _servers_of(session: Session, nodes: list[ComputeNode]) -> dict[str, list[dict[str, str]]]:
    servers: dict[str, list[dict[str, str]]] = {}
    rows = session.execute(
        sa.select(Instance.node, Instance.uuid)
        .where(Instance.node.in_([n.hypervisor_hostname for n in nodes]))
        .where(Instance.deleted.is_(False))
        .order_by(Instance.created_at)
    )
    for node_name, server_uuid in rows:
        servers.setdefault(node_name, []).append(
            {"name": instance_name(server_uuid), "uuid": server_uuid}
        )
    return servers


@router.get("/{pattern}/search", summary="Hypervisors whose name matches (before 2.53)")
def search_hypervisors(
    pattern: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    return _matching(request, pattern, with_servers=False)


@router.get("/{pattern}/servers", summary="Servers of matching hypervisors (before 2.53)")
def hypervisor_servers(
    pattern: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "hypervisors")
    return _matching(request, pattern, with_servers=True)
