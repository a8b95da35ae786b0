"""The container service's tables: containers, the hosts their agents report, and quotas.

A container's row is the desired state and what the agent last reported; the host rows
carry what each agent offers, and a ``generation`` bumped by every claim so that
concurrent claims on one host take its row lock in turn (see :mod:`.scheduler`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.runtime.db import utcnow

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Container(Base):
    __tablename__ = "container_containers"

    uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    project_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(255))
    image: Mapped[str] = mapped_column(sa.String(255))
    image_driver: Mapped[str] = mapped_column(sa.String(16))
    image_id: Mapped[str | None] = mapped_column(sa.String(36))
    command: Mapped[list[str] | None] = mapped_column(sa.JSON)
    entrypoint: Mapped[list[str] | None] = mapped_column(sa.JSON)
    cpu: Mapped[float] = mapped_column(sa.Float)
    memory: Mapped[int] = mapped_column(sa.Integer)  # MB
    environment: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    labels: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    workdir: Mapped[str | None] = mapped_column(sa.String(255))
    hostname: Mapped[str | None] = mapped_column(sa.String(63))
    restart_policy: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    interactive: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    tty: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    auto_remove: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    nets: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)  # its ports
    security_groups: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # group ids
    # Its mounts, as the request gave them: {"type": "volume", "destination", "size"} (GiB)
    # or {"type": "bind", "destination", "source"} (the file's content, base64); None: none.
    mounts: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON, default=list)
    availability_zone: Mapped[str | None] = mapped_column(sa.String(255))
    host: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    status_detail: Mapped[str | None] = mapped_column(sa.String(255))
    task_state: Mapped[str | None] = mapped_column(sa.String(30))
    start_requested: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    addresses: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    capsule_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)  # its pod
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class Capsule(Base):
    """A group of containers on one host sharing one network namespace (a pod); its
    containers are rows of ``container_containers`` with its ``capsule_id``, and its
    state is theirs."""

    __tablename__ = "container_capsules"

    uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    project_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(255))
    labels: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    restart_policy: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    host: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class Host(Base):
    """A host's container agent: what it offers and when it last reported."""

    __tablename__ = "container_hosts"

    hostname: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    availability_zone: Mapped[str] = mapped_column(sa.String(255))
    cpus: Mapped[int] = mapped_column(sa.Integer)
    memory_mb: Mapped[int] = mapped_column(sa.Integer)
    driver_status: Mapped[str | None] = mapped_column(sa.Text)  # None while Docker answers
    console_url: Mapped[str | None] = mapped_column(sa.String(255))  # its websocket proxy
    generation: Mapped[int] = mapped_column(sa.Integer, default=0)
    disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    report_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_seen_up: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class Quota(Base):
    """A project's limit on one resource (containers, cpu, memory) set by an admin."""

    __tablename__ = "container_quotas"

    project_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    hard_limit: Mapped[float] = mapped_column(sa.Float)


class ProjectClaims(Base):
    """A row per project whose ``generation`` every claim bumps first: that takes the
    project's row lock, so concurrent claims on different hosts still check the
    project's quota one after the other."""

    __tablename__ = "container_project_claims"

    project_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    generation: Mapped[int] = mapped_column(sa.Integer, default=0)


class Action(Base):
    """One request that changed a container (create, stop, commit...), as Zun's
    ``container_actions`` show it; its events are what the agent did about it."""

    __tablename__ = "container_actions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    container_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    request_id: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(32))
    project_id: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[str] = mapped_column(sa.String(255))
    message: Mapped[str | None] = mapped_column(sa.Text)
    start_time: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ActionEvent(Base):
    __tablename__ = "container_action_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        sa.ForeignKey("container_actions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(sa.String(64))
    start_time: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finish_time: Mapped[datetime | None] = mapped_column(Timestamp)
    result: Mapped[str | None] = mapped_column(sa.String(16))  # Success or Error
    traceback: Mapped[str | None] = mapped_column(sa.Text)  # the reason of an Error


class ConsoleToken(Base):
    """A short-lived, single-use right to one container's attach or exec stream, which
    the websocket proxy of the container's host claims (over the bus)."""

    __tablename__ = "container_console_tokens"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 hex
    container_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    exec_id: Mapped[str | None] = mapped_column(sa.String(64))  # None: attach
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class UnfreedPort(Base):
    """A port of a container that is gone, which the network service failed to free
    (it was down or failing): deleted (or, ``preserve``, let go) again until it answers."""

    __tablename__ = "container_unfreed_ports"

    port_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    preserve: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
