"""The service catalog as tokens and ``/v3/auth/catalog`` present it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.identity.models import Endpoint, Service


def build_catalog(session: Session) -> list[dict[str, Any]]:
    """Every enabled service with its enabled endpoints."""
    stmt = (
        sa.select(Service, Endpoint)
        .join(Endpoint, Endpoint.service_id == Service.id)
        .where(Service.enabled.is_(True), Endpoint.enabled.is_(True))
        .order_by(Service.type, Service.id, Endpoint.interface, Endpoint.id)
    )
    catalog: dict[str, dict[str, Any]] = {}
    for service, endpoint in session.execute(stmt):
        entry = catalog.setdefault(
            service.id,
            {"id": service.id, "type": service.type, "name": service.name or "", "endpoints": []},
        )
        entry["endpoints"].append(
            {
                "id": endpoint.id,
                "interface": endpoint.interface,
                "region": endpoint.region_id,
                "region_id": endpoint.region_id,
                "url": endpoint.url,
            }
        )
    return list(catalog.values())
