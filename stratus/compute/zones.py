"""Availability zones: an aggregate's ``availability_zone`` metadata puts its hosts in a
zone; compute hosts in none are in ``[compute] default_availability_zone``; the other
services (scheduler, conductor) are in the ``internal`` zone."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.compute.models import AggregateHost, AggregateMetadata

AZ_KEY = "availability_zone"
INTERNAL = "internal"


def host_zones(session: Session) -> dict[str, str]:
    """Each aggregated host's zone (hosts in no zoned aggregate are left out)."""
    rows = session.execute(
        sa.select(AggregateHost.host, AggregateMetadata.value)
        .join(AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)
        .where(AggregateMetadata.key == AZ_KEY)
        .order_by(AggregateMetadata.value)
    )
    zones: dict[str, str] = {}
    for host, zone in rows:
        zones.setdefault(host, zone)
    return zones


def zone_of(session: Session, host: str, default: str) -> str:
    return host_zones(session).get(host, default)
