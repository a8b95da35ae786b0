"""The identity service's tables.

Role assignments are one table for the four kinds (user or group, on a project or a
domain), as the grant APIs and ``/v3/role_assignments`` treat them alike. Column sizes
keep every unique index within MySQL's limits under utf8mb4.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.runtime.db import utcnow

# Microseconds on every database (MySQL keeps whole seconds unless asked), so a token
# issued just after a revocation is told apart from the ones it revokes.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

ID_LENGTH = 64
DOMAIN_NAME_LENGTH = 64
PROJECT_NAME_LENGTH = 64
USER_NAME_LENGTH = 255
GROUP_NAME_LENGTH = 64
ROLE_NAME_LENGTH = 255
APP_CRED_NAME_LENGTH = 255
REGION_ID_LENGTH = 255
SERVICE_FIELD_LENGTH = 255

USER, GROUP = "user", "group"
PROJECT, DOMAIN = "project", "domain"


def hex_id() -> str:
    """Keystone-style ids: a UUID as 32 hex digits."""
    return uuid.uuid4().hex


def _id(**kwargs: Any) -> Mapped[str]:
    return mapped_column(sa.String(ID_LENGTH), primary_key=True, default=hex_id, **kwargs)


def _ref(target: str, **kwargs: Any) -> Mapped[Any]:
    return mapped_column(sa.String(ID_LENGTH), sa.ForeignKey(target, ondelete="CASCADE"), **kwargs)


class Base(DeclarativeBase):
    # Named constraints, so that later migrations can alter them on every database.
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Domain(Base):
    __tablename__ = "identity_domains"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(sa.String(DOMAIN_NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Project(Base):
    __tablename__ = "identity_projects"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(sa.String(PROJECT_NAME_LENGTH))
    domain_id: Mapped[str] = _ref("identity_domains.id", index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class User(Base):
    __tablename__ = "identity_users"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(sa.String(USER_NAME_LENGTH))
    domain_id: Mapped[str] = _ref("identity_domains.id", index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    default_project_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Group(Base):
    __tablename__ = "identity_groups"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(sa.String(GROUP_NAME_LENGTH))
    domain_id: Mapped[str] = _ref("identity_domains.id", index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Membership(Base):
    __tablename__ = "identity_group_members"

    group_id: Mapped[str] = _ref("identity_groups.id", primary_key=True)
    user_id: Mapped[str] = _ref("identity_users.id", primary_key=True, index=True)


class Role(Base):
    __tablename__ = "identity_roles"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(sa.String(ROLE_NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Assignment(Base):
    """A role granted to an actor (a user or a group) on a target (a project or a domain)."""

    __tablename__ = "identity_assignments"
    actor_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    actor_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    target_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    target_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True, index=True)
    role_id: Mapped[str] = _ref("identity_roles.id", primary_key=True, index=True)


class ApplicationCredential(Base):
    __tablename__ = "identity_application_credentials"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(sa.String(APP_CRED_NAME_LENGTH))
    user_id: Mapped[str] = _ref("identity_users.id")
    project_id: Mapped[str] = _ref("identity_projects.id", index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    unrestricted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AppCredRole(Base):
    __tablename__ = "identity_app_cred_roles"

    app_cred_id: Mapped[str] = _ref("identity_application_credentials.id", primary_key=True)
    role_id: Mapped[str] = _ref("identity_roles.id", primary_key=True, index=True)


class Region(Base):
    __tablename__ = "identity_regions"

    id: Mapped[str] = mapped_column(sa.String(REGION_ID_LENGTH), primary_key=True, default=hex_id)
    description: Mapped[str | None] = mapped_column(sa.Text)
    parent_region_id: Mapped[str | None] = mapped_column(
        sa.String(REGION_ID_LENGTH), sa.ForeignKey("identity_regions.id"), index=True
    )
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Service(Base):
    __tablename__ = "identity_services"

    id: Mapped[str] = _id()
    type: Mapped[str] = mapped_column(sa.String(SERVICE_FIELD_LENGTH), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(SERVICE_FIELD_LENGTH))
    description: Mapped[str | None] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Endpoint(Base):
    __tablename__ = "identity_endpoints"

    id: Mapped[str] = _id()
    service_id: Mapped[str] = _ref("identity_services.id", index=True)
    interface: Mapped[str] = mapped_column(sa.String(8))
    region_id: Mapped[str | None] = mapped_column(
        sa.String(REGION_ID_LENGTH), sa.ForeignKey("identity_regions.id"), index=True
    )
    url: Mapped[str] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class RevocationEvent(Base):
    """Tokens matching this event and issued at or before ``issued_before`` are revoked:
    one token (by audit id), or every token of a user or of a project."""

    __tablename__ = "identity_revocation_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH), index=True)
    project_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH), index=True)
    issued_before: Mapped[datetime] = mapped_column(Timestamp, index=True)
