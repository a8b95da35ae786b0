"""os-availability-zone: the zones servers can be created in, and (for admins) which
hosts and services each holds."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request

from stratus.compute import zones
from stratus.compute.api.common import PREFIX, Backend, backend, micro, transaction
from stratus.compute.models import Service
from stratus.compute.scheduler.hosts import service_is_up
from stratus.compute.services import AGENT
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.routing import Router, app_backend

router = Router(prefix=PREFIX + "/os-availability-zone")


def _zones(request: Request) -> tuple[dict[str, list[Service]], int]:
    """Services by zone (the internal zone included)."""
    conf = backend(request).conf.compute
    by_zone: dict[str, list[Service]] = defaultdict(list)
    with transaction(request) as session:
        host_zones = zones.host_zones(session)
        for service in session.scalars(sa.select(Service).order_by(Service.host)):
            if service.binary == AGENT[0]:
                zone = host_zones.get(service.host, conf.default_availability_zone)
            else:
                zone = zones.INTERNAL
            by_zone[zone].append(service)
    return by_zone, conf.service_down_time


def _available(services: list[Service]) -> bool:
    """A zone is available when one of its compute services is enabled."""
    return any(not s.disabled for s in services if s.binary == AGENT[0])


@router.get("", summary="List availability zones")
def list_zones(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "availability_zones:list")
    by_zone, _ = _zones(request)
    return {
        "availabilityZoneInfo": [
            {
                "zoneName": zone,
                "zoneState": {"available": _available(services)},
                "hosts": None,
            }
            for zone, services in sorted(by_zone.items())
            if zone != zones.INTERNAL
        ]
    }


@router.get("/detail", summary="List availability zones with their hosts and services")
def list_zones_detail(
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> dict[str, Any]:
    api.policy.enforce(ctx, "availability_zones:detail")
    by_zone, down_time = _zones(request)
    info = []
    for zone, services in sorted(by_zone.items()):
        hosts: dict[str, dict[str, Any]] = defaultdict(dict)
        for service in services:
            hosts[service.host][service.binary] = {
                "available": service_is_up(service, down_time),
                "active": not service.disabled,
                "updated_at": micro(service.last_seen_up),
            }
        available = True if zone == zones.INTERNAL else _available(services)
        info.append({"zoneName": zone, "zoneState": {"available": available}, "hosts": dict(hosts)})
    return {"availabilityZoneInfo": info}
