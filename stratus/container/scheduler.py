"""Scheduling inside the API: pick a host that is up, in the asked zone, with room.

A claim is the container's row itself (its host, cpu and memory), written in the
transaction that first bumps the ``generation`` of the project's claims row and then of
the host's row: those updates take the rows' locks (and SQLite's write lock) before the
project's and the host's usage are summed, so requests racing for the last room on a
host, or the last of a project's quota, are served one after the other and never
overcommit. Locks are always taken project first, then host.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.container import states
from stratus.container.models import Container, Host, ProjectClaims
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


def ensure_project(db: Database, project_id: str) -> None:
    """Make the project's claims row once (a racing request may make it first)."""
    try:
        with db.session() as session:
            if session.get(ProjectClaims, project_id) is None:
                session.add(ProjectClaims(project_id=project_id, generation=0))
    except IntegrityError:
        pass


def lock(session: Session, project_id: str, hostname: str) -> None:
    """Take the project's and then the host's claim locks for this transaction."""
    session.execute(
        sa.update(ProjectClaims)
        .where(ProjectClaims.project_id == project_id)
        .values(generation=ProjectClaims.generation + 1)
    )
    session.execute(
        sa.update(Host).where(Host.hostname == hostname).values(generation=Host.generation + 1)
    )


def fits(session: Session, host: Host, cpu: float, memory: int, cpu_ratio: float) -> bool:
    """Whether ``cpu`` and ``memory`` more fit on the host (call with its lock held)."""
    used_cpu, used_memory = usage(session, host.hostname).get(host.hostname, (0.0, 0))
    return used_cpu + cpu <= host.cpus * cpu_ratio and used_memory + memory <= host.memory_mb


def claim(
    db: Database,
    hosts: list[Host],
    cpu_ratio: float,
    containers: list[Container],
    check: Callable[[Session], None],
) -> None:
    """Record ``containers`` (one, or a capsule's) on the first host with room for them
    all; ``check`` (quotas) runs locked."""
    project_id = containers[0].project_id
    cpu, memory = sum(c.cpu for c in containers), sum(c.memory for c in containers)
    ensure_project(db, project_id)
    for host in hosts:
        with db.session() as session:
            lock(session, project_id, host.hostname)
            if fits(session, host, cpu, memory, cpu_ratio):
                check(session)
                for container in containers:
                    container.host = host.hostname
                    session.add(container)
                return
    zone = containers[0].availability_zone
    raise NoValidHost(
        f"No container host can take {cpu:g} CPU and {memory} MB"
        + (f" in availability zone {zone!r}." if zone else ".")
    )


def usage(session: Session, hostname: str | None = None) -> dict[str, tuple[float, int]]:
    """CPU and memory held on each host (or on ``hostname``) by its containers."""
    query = (
        sa.select(Container.host, sa.func.sum(Container.cpu), sa.func.sum(Container.memory))
        .where(Container.status.in_(states.HOLDING), Container.host.is_not(None))
        .group_by(Container.host)
    )
    if hostname:
        query = query.where(Container.host == hostname)
    return {row[0]: (float(row[1]), int(row[2])) for row in session.execute(query)}
