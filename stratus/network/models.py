"""The network service's tables.

Concurrency is settled by the database, never by locks SQLite lacks: an address or a
segment is taken by inserting its row under a primary key (the loser of a race gets an
IntegrityError and its transaction is retried), and ``revision_number`` is SQLAlchemy's
version counter, so an update of a row that changed since it was read raises
StaleDataError (and is retried). Touching a parent row (a network when a subnet is added,
a security group when a rule is) therefore serialises the checks made on its children.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    foreign,
    mapped_column,
    relationship,
)

from stratus.runtime.db import new_id, utcnow

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

ID = 36  # a UUID with dashes, as Neutron's ids are
PROJECT_ID = 64
NAME = 255
ADDRESS = 64  # an IPv6 address or CIDR as text
TAG = 60


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _fk(target: str, ondelete: str, **kwargs: Any) -> Mapped[Any]:
    return mapped_column(sa.String(ID), sa.ForeignKey(target, ondelete=ondelete), **kwargs)


class Tag(Base):
    """A tag on any resource (ids are UUIDs, so one table serves them all)."""

    __tablename__ = "network_tags"
    resource_id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(TAG), primary_key=True)


class StandardAttrs:
    """What every Neutron resource carries: id, description, timestamps, revision, tags."""

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True, default=new_id)
    description: Mapped[str] = mapped_column(sa.String(NAME), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    revision_number: Mapped[int] = mapped_column(sa.Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.revision_number}  # type: ignore[attr-defined]

    @declared_attr
    def tags(cls) -> Mapped[list[Tag]]:
        return relationship(
            Tag,
            primaryjoin=lambda: foreign(Tag.resource_id) == cls.id,  # type: ignore[attr-defined]
            viewonly=True,
            lazy="selectin",
            order_by=Tag.tag,
        )

    def touch(self) -> None:
        """Mark the row changed: its revision goes up, or the transaction is retried if
        another one changed it first."""
        self.updated_at = utcnow()


class Owned(StandardAttrs):
    project_id: Mapped[str] = mapped_column(sa.String(PROJECT_ID), index=True)
    name: Mapped[str] = mapped_column(sa.String(NAME), default="")


class Network(Owned, Base):
    __tablename__ = "network_networks"
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(default=False)
    external: Mapped[bool] = mapped_column(default=False)
    mtu: Mapped[int] = mapped_column(sa.Integer)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    availability_zone_hints: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    segments: Mapped[list[Segment]] = relationship(
        back_populates="network", lazy="selectin", cascade="all, delete-orphan"
    )
    subnets: Mapped[list[Subnet]] = relationship(
        back_populates="network", lazy="selectin", order_by="Subnet.created_at"
    )


class Segment(Base):
    __tablename__ = "network_segments"
    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True, default=new_id)
    network_id: Mapped[str] = _fk("network_networks.id", "CASCADE", index=True)
    network_type: Mapped[str] = mapped_column(sa.String(16))
    physical_network: Mapped[str | None] = mapped_column(sa.String(64))
    segmentation_id: Mapped[int | None] = mapped_column(sa.Integer)
    network: Mapped[Network] = relationship(back_populates="segments")


class SegmentAllocation(Base):
    """A segment in use: VLAN 100 on physnet1, VNI 42, or the flat network of a physnet
    (``physical_network`` is '' when none applies, ``segmentation_id`` 0 for flat)."""

    __tablename__ = "network_segment_allocations"
    network_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    physical_network: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    segment_id: Mapped[str] = _fk("network_segments.id", "CASCADE", unique=True)


class SubnetPool(Owned, Base):
    __tablename__ = "network_subnetpools"
    ip_version: Mapped[int] = mapped_column(sa.Integer)
    prefixes: Mapped[list[str]] = mapped_column(sa.JSON)
    default_prefixlen: Mapped[int] = mapped_column(sa.Integer)
    min_prefixlen: Mapped[int] = mapped_column(sa.Integer)
    max_prefixlen: Mapped[int] = mapped_column(sa.Integer)
    shared: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    default_quota: Mapped[int | None] = mapped_column(sa.Integer)


class Subnet(Owned, Base):
    __tablename__ = "network_subnets"
    network_id: Mapped[str] = _fk("network_networks.id", "CASCADE", index=True)
    ip_version: Mapped[int] = mapped_column(sa.Integer)
    cidr: Mapped[str] = mapped_column(sa.String(ADDRESS))
    gateway_ip: Mapped[str | None] = mapped_column(sa.String(ADDRESS))
    enable_dhcp: Mapped[bool] = mapped_column(default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(sa.String(32))
    ipv6_address_mode: Mapped[str | None] = mapped_column(sa.String(32))
    subnetpool_id: Mapped[str | None] = _fk("network_subnetpools.id", "RESTRICT", index=True)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    network: Mapped[Network] = relationship(back_populates="subnets")


class IPAllocation(Base):
    """An address of a subnet held by a port; the primary key makes it held only once."""

    __tablename__ = "network_ip_allocations"
    subnet_id: Mapped[str] = _fk("network_subnets.id", "CASCADE", primary_key=True)
    ip_address: Mapped[str] = mapped_column(sa.String(ADDRESS), primary_key=True)
    port_id: Mapped[str] = _fk("network_ports.id", "CASCADE", index=True)
    network_id: Mapped[str] = mapped_column(sa.String(ID), index=True)


class Port(Owned, Base):
    __tablename__ = "network_ports"
    __table_args__ = (sa.UniqueConstraint("network_id", "mac_address"),)
    network_id: Mapped[str] = _fk("network_networks.id", "RESTRICT", index=True)
    mac_address: Mapped[str] = mapped_column(sa.String(32))
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(sa.String(NAME), default="", index=True)
    device_owner: Mapped[str] = mapped_column(sa.String(NAME), default="")
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    allowed_address_pairs: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    binding_host_id: Mapped[str] = mapped_column(sa.String(NAME), default="", index=True)
    binding_vif_type: Mapped[str] = mapped_column(sa.String(64), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    binding_vnic_type: Mapped[str] = mapped_column(sa.String(64), default="normal")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    fixed_ips: Mapped[list[IPAllocation]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )
    security_group_bindings: Mapped[list[PortSecurityGroup]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )
    network: Mapped[Network] = relationship()

    @property
    def security_group_ids(self) -> list[str]:
        return [b.security_group_id for b in self.security_group_bindings]


class SecurityGroup(Owned, Base):
    __tablename__ = "network_security_groups"
    stateful: Mapped[bool] = mapped_column(default=True)
    rules: Mapped[list[SecurityGroupRule]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        foreign_keys="SecurityGroupRule.security_group_id",
        order_by="SecurityGroupRule.created_at",
    )


class DefaultSecurityGroup(Base):
    """Which group is a project's ``default``: one row per project, so that concurrent
    first uses create it once."""

    __tablename__ = "network_default_security_groups"
    project_id: Mapped[str] = mapped_column(sa.String(PROJECT_ID), primary_key=True)
    security_group_id: Mapped[str] = _fk("network_security_groups.id", "CASCADE", unique=True)


class SecurityGroupRule(Owned, Base):
    __tablename__ = "network_security_group_rules"
    security_group_id: Mapped[str] = _fk("network_security_groups.id", "CASCADE", index=True)
    direction: Mapped[str] = mapped_column(sa.String(16))
    ethertype: Mapped[str] = mapped_column(sa.String(8))
    protocol: Mapped[str | None] = mapped_column(sa.String(40))
    port_range_min: Mapped[int | None] = mapped_column(sa.Integer)
    port_range_max: Mapped[int | None] = mapped_column(sa.Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(sa.String(ADDRESS))
    remote_group_id: Mapped[str | None] = _fk("network_security_groups.id", "CASCADE")


class PortSecurityGroup(Base):
    __tablename__ = "network_port_security_groups"
    port_id: Mapped[str] = _fk("network_ports.id", "CASCADE", primary_key=True)
    security_group_id: Mapped[str] = _fk(
        "network_security_groups.id", "RESTRICT", primary_key=True, index=True
    )


class Router(Owned, Base):
    __tablename__ = "network_routers"
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    gw_port_id: Mapped[str | None] = _fk("network_ports.id", "SET NULL")
    enable_snat: Mapped[bool] = mapped_column(default=True)
    routes: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    availability_zone_hints: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    gw_port: Mapped[Port | None] = relationship(lazy="selectin")
    interfaces: Mapped[list[RouterPort]] = relationship(lazy="selectin", viewonly=True)


class RouterPort(Base):
    """A router's interface on an internal network."""

    __tablename__ = "network_router_ports"
    router_id: Mapped[str] = _fk("network_routers.id", "RESTRICT", primary_key=True)
    port_id: Mapped[str] = _fk("network_ports.id", "CASCADE", primary_key=True, unique=True)
    port: Mapped[Port] = relationship(lazy="selectin")


class FloatingIP(StandardAttrs, Base):
    __tablename__ = "network_floating_ips"
    __table_args__ = (
        sa.UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address"),
    )
    project_id: Mapped[str] = mapped_column(sa.String(PROJECT_ID), index=True)
    floating_network_id: Mapped[str] = _fk("network_networks.id", "RESTRICT", index=True)
    floating_port_id: Mapped[str] = _fk("network_ports.id", "CASCADE", unique=True)
    floating_ip_address: Mapped[str] = mapped_column(sa.String(ADDRESS))
    fixed_port_id: Mapped[str | None] = _fk("network_ports.id", "SET NULL", index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(sa.String(ADDRESS))
    router_id: Mapped[str | None] = _fk("network_routers.id", "SET NULL", index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    fixed_port: Mapped[Port | None] = relationship(
        foreign_keys=[fixed_port_id], lazy="selectin", viewonly=True
    )


class Quota(Base):
    __tablename__ = "network_quotas"
    project_id: Mapped[str] = mapped_column(sa.String(PROJECT_ID), primary_key=True)
    resource: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(sa.Integer)


class Agent(Base):
    """An agent as its heartbeats describe it (one per type and host)."""

    __tablename__ = "network_agents"
    __table_args__ = (sa.UniqueConstraint("agent_type", "host"),)
    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True, default=new_id)
    agent_type: Mapped[str] = mapped_column(sa.String(64))
    binary: Mapped[str] = mapped_column(sa.String(NAME))
    topic: Mapped[str] = mapped_column(sa.String(NAME))
    host: Mapped[str] = mapped_column(sa.String(NAME))
    availability_zone: Mapped[str | None] = mapped_column(sa.String(NAME))
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(sa.String(NAME), default="")
    configurations: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    heartbeat_timestamp: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class NetworkDhcpAgent(Base):
    """The DHCP agent that serves a network."""

    __tablename__ = "network_dhcp_agent_bindings"
    network_id: Mapped[str] = _fk("network_networks.id", "CASCADE", primary_key=True)
    agent_id: Mapped[str] = _fk("network_agents.id", "CASCADE", index=True)


class RouterL3Agent(Base):
    """The L3 agent that hosts a router."""

    __tablename__ = "network_router_l3_agent_bindings"
    router_id: Mapped[str] = _fk("network_routers.id", "CASCADE", primary_key=True)
    agent_id: Mapped[str] = _fk("network_agents.id", "CASCADE", index=True)
