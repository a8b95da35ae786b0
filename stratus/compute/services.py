"""Service records: every scheduler, conductor and compute agent host reports that it is
alive; os-services lists them and the scheduler skips compute hosts that are down."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.compute.models import Service
from stratus.runtime.db import Database, new_id, utcnow

SCHEDULER = ("nova-scheduler", "compute-scheduler")
CONDUCTOR = ("nova-conductor", "compute-conductor")
AGENT = ("nova-compute", "compute-agent")


def heartbeat(db: Database, host: str, binary: str, topic: str) -> None:
    """Record that the service is up now, creating its record the first time."""
    try:
        with db.session() as session:
            heartbeat_in(session, host, binary, topic)
    except IntegrityError:  # created concurrently by another process of the same host
        with db.session() as session:
            heartbeat_in(session, host, binary, topic)


def heartbeat_in(session: Session, host: str, binary: str, topic: str) -> None:
    now = utcnow()
    updated = session.execute(
        sa.update(Service.__table__)
        .where(Service.host == host, Service.binary == binary)
        .values(last_seen_up=now, report_count=Service.report_count + 1, updated_at=now)
    )
    if updated.rowcount == 0:
        session.add(Service(uuid=new_id(), host=host, binary=binary, topic=topic, last_seen_up=now))
        session.flush()
