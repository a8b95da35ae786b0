"""Scheduling inside the API: pick a host that is up, in the asked zone, with room.

A claim is the container's row itself (its host, cpu and memory), written in the same
transaction that first bumps the host's ``generation``: that update takes the host's row
lock (and SQLite's write lock) before the host's usage is summed, so two requests racing
for the last room on a host are served one after the other and never overcommit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stratus.container import states
from stratus.container.models import Container, Host
from stratus.runtime.api.errors import ApiError
from stratus.runtime.db import Database, utcnow


class NoValidHost(ApiError):
    """No host can take the container (Zun answers this with a 400 at create)."""

    status = 400


def is_up(host: Host, down_time: int) -> bool:
    return host.last_seen_up >= utcnow() - timedelta(seconds=down_time)


def candidates(db: Database, zone: str | None, down_time: int, forced: str | None) -> list[Host]:
    """Hosts that are up, enabled, answered by Docker, in the zone; most free memory first."""
    with db.session() as session:
        query = sa.select(Host).where(Host.disabled.is_(False), Host.driver_status.is_(None))
        if zone:
            query = query.where(Host.availability_zone == zone)
        if forced:
            query = query.where(Host.hostname == forced)
        hosts = [h for h in session.scalars(query) if is_up(h, down_time)]
        used = usage(session)
    return sorted(hosts, key=lambda h: used.get(h.hostname, (0.0, 0))[1] - h.memory_mb)


def claim(
    db: Database,
    hosts: list[Host],
    cpu_ratio: float,
    container: Container,
    check: Callable[[Session], None],
) -> None:
    """Record ``container`` on the first host with room; ``check`` (quotas) runs locked."""
    for host in hosts:
        with db.session() as session:
            session.execute(
                sa.update(Host)
                .where(Host.hostname == host.hostname)
                .values(generation=Host.generation + 1)
            )
            cpu, memory = usage(session, host.hostname).get(host.hostname, (0.0, 0))
            if (
                cpu + container.cpu <= host.cpus * cpu_ratio
                and memory + container.memory <= host.memory_mb
            ):
                check(session)
                container.host = host.hostname
                session.add(container)
                return
    raise NoValidHost(
        f"No container host can take {container.cpu:g} CPU and {container.memory} MB"
        + (
            f" in availability zone {container.availability_zone!r}."
            if container.availability_zone
            else "."
        )
    )


def usage(session: Session, hostname: str | None = None) -> dict[str, tuple[float, int]]:
    query = (
        sa.select(Container.host, sa.func.sum(Container.cpu), sa.func.sum(Container.memory))
        .where(Container.status.in_(states.HOLDING), Container.host.is_not(None))
        .group_by(Container.host)
    )
    if hostname:
        query = query.where(Container.host == hostname)
    return {row[0]: (float(row[1]), int(row[2])) for row in session.execute(query)}
