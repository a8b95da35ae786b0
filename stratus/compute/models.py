"""The compute service's tables.

Servers are soft-deleted (``deleted``), because Nova lists deleted servers to admins and
to ``changes-since`` queries; everything else is deleted for real. A server keeps a copy
of its flavor (``flavor``), so that it still shows one after the flavor is deleted.
What a host offers is in ``compute_nodes``; what is taken from it is in
``compute_allocations`` (one row per server or resize per node) and summed on the node
row by the claims, whose conditional updates are what keeps hosts from overcommitting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from stratus.runtime.db import utcnow

# Microseconds on every database, so that sorting by time is stable.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# Long text that MySQL would otherwise cap at 64 KiB (user data, console-sized faults).
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

ID = 36
NAME = 255


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
    type_annotation_map = {dict[str, Any]: sa.JSON, list[Any]: sa.JSON, datetime: Timestamp}


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


def _updated() -> Mapped[datetime | None]:
    return mapped_column(default=None, onupdate=utcnow)


def _cascade(column: str) -> Any:
    return sa.ForeignKey(column, ondelete="CASCADE")


class Flavor(Base):
    __tablename__ = "compute_flavors"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    flavorid: Mapped[str] = mapped_column(sa.String(NAME), unique=True)
    name: Mapped[str] = mapped_column(sa.String(NAME), unique=True)
    memory_mb: Mapped[int]
    vcpus: Mapped[int]
    root_gb: Mapped[int]
    ephemeral_gb: Mapped[int] = mapped_column(default=0)
    swap: Mapped[int] = mapped_column(default=0)
    rxtx_factor: Mapped[float] = mapped_column(default=1.0)
    is_public: Mapped[bool] = mapped_column(default=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime | None] = _updated()

    extra_specs: Mapped[list[FlavorExtraSpec]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    projects: Mapped[list[FlavorProject]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def specs(self) -> dict[str, str]:
        return {spec.key: spec.value for spec in self.extra_specs}


class FlavorExtraSpec(Base):
    __tablename__ = "compute_flavor_extra_specs"

    flavor_id: Mapped[int] = mapped_column(_cascade("compute_flavors.id"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(NAME))


class FlavorProject(Base):
    """A project that may use a private flavor."""

    __tablename__ = "compute_flavor_projects"

    flavor_id: Mapped[int] = mapped_column(_cascade("compute_flavors.id"), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)


class KeyPair(Base):
    __tablename__ = "compute_key_pairs"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    user_id: Mapped[str] = mapped_column(sa.String(NAME), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(NAME))
    public_key: Mapped[str] = mapped_column(sa.Text)
    type: Mapped[str] = mapped_column(sa.String(10), default="ssh")
    created_at: Mapped[datetime] = _created()


class ServerGroup(Base):
    __tablename__ = "compute_server_groups"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    project_id: Mapped[str] = mapped_column(sa.String(NAME), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(NAME))
    policy: Mapped[str] = mapped_column(sa.String(NAME))
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()

    members: Mapped[list[ServerGroupMember]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class ServerGroupMember(Base):
    __tablename__ = "compute_server_group_members"

    group_id: Mapped[str] = mapped_column(_cascade("compute_server_groups.id"), primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(sa.String(ID), primary_key=True, unique=True)


class Aggregate(Base):
    __tablename__ = "compute_aggregates"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(ID), unique=True)
    name: Mapped[str] = mapped_column(sa.String(NAME), unique=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime | None] = _updated()

    hosts: Mapped[list[AggregateHost]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    metadata_items: Mapped[list[AggregateMetadata]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def metadata_dict(self) -> dict[str, str]:
        return {item.key: item.value for item in self.metadata_items}


class AggregateHost(Base):
    __tablename__ = "compute_aggregate_hosts"

    aggregate_id: Mapped[int] = mapped_column(_cascade("compute_aggregates.id"), primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True, index=True)


class AggregateMetadata(Base):
    __tablename__ = "compute_aggregate_metadata"

    aggregate_id: Mapped[int] = mapped_column(_cascade("compute_aggregates.id"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(NAME))


class Service(Base):
    """A running part: a compute agent's host, a scheduler or a conductor."""

    __tablename__ = "compute_services"
    __table_args__ = (sa.UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(ID), unique=True)
    host: Mapped[str] = mapped_column(sa.String(NAME))
    binary: Mapped[str] = mapped_column(sa.String(NAME))
    topic: Mapped[str] = mapped_column(sa.String(NAME))
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(NAME))
    forced_down: Mapped[bool] = mapped_column(default=False)
    report_count: Mapped[int] = mapped_column(default=0)
    last_seen_up: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime | None] = _updated()


class ComputeNode(Base):
    """What one hypervisor offers (reported by its agent) and what claims took of it."""

    __tablename__ = "compute_nodes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(ID), unique=True)
    host: Mapped[str] = mapped_column(sa.String(NAME), index=True)
    hypervisor_hostname: Mapped[str] = mapped_column(sa.String(NAME), unique=True)
    hypervisor_type: Mapped[str] = mapped_column(sa.String(NAME))
    hypervisor_version: Mapped[int] = mapped_column(default=0)
    host_ip: Mapped[str] = mapped_column(sa.String(64), default="")
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    local_gb: Mapped[int]
    vcpus_used: Mapped[int] = mapped_column(default=0)
    memory_mb_used: Mapped[int] = mapped_column(default=0)
    local_gb_used: Mapped[int] = mapped_column(default=0)
    reserved_vcpus: Mapped[int] = mapped_column(default=0)
    reserved_memory_mb: Mapped[int] = mapped_column(default=0)
    reserved_disk_gb: Mapped[int] = mapped_column(default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(default=16.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(default=1.5)
    disk_allocation_ratio: Mapped[float] = mapped_column(default=1.0)
    cpu_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What the host can run: {"hypervisor_type", "architectures", "vm_modes", ...}.
    capabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime | None] = _updated()


class Allocation(Base):
    """Resources a consumer (a server, or a resize's migration) holds on a node."""

    __tablename__ = "compute_allocations"

    consumer_id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    node_id: Mapped[int] = mapped_column(_cascade("compute_nodes.id"), primary_key=True)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    disk_gb: Mapped[int]
    created_at: Mapped[datetime] = _created()


class Instance(Base):
    __tablename__ = "compute_instances"
    __table_args__ = (sa.Index("ix_compute_instances_project_deleted", "project_id", "deleted"),)

    uuid: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(NAME), index=True)
    display_description: Mapped[str | None] = mapped_column(sa.Text)
    hostname: Mapped[str] = mapped_column(sa.String(NAME))
    project_id: Mapped[str] = mapped_column(sa.String(NAME))
    user_id: Mapped[str] = mapped_column(sa.String(NAME))
    image_ref: Mapped[str] = mapped_column(sa.String(NAME), default="")
    flavor: Mapped[dict[str, Any]]
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    new_flavor: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    vm_state: Mapped[str] = mapped_column(sa.String(NAME), index=True)
    task_state: Mapped[str | None] = mapped_column(sa.String(NAME))
    power_state: Mapped[int] = mapped_column(default=0)
    host: Mapped[str | None] = mapped_column(sa.String(NAME), index=True)
    node: Mapped[str | None] = mapped_column(sa.String(NAME))
    availability_zone: Mapped[str | None] = mapped_column(sa.String(NAME))
    key_name: Mapped[str | None] = mapped_column(sa.String(NAME))
    key_data: Mapped[str | None] = mapped_column(sa.Text)
    user_data: Mapped[str | None] = mapped_column(LongText)
    config_drive: Mapped[str] = mapped_column(sa.String(NAME), default="")
    access_ip_v4: Mapped[str | None] = mapped_column(sa.String(64))
    access_ip_v6: Mapped[str | None] = mapped_column(sa.String(64))
    kernel_id: Mapped[str] = mapped_column(sa.String(NAME), default="")
    ramdisk_id: Mapped[str] = mapped_column(sa.String(NAME), default="")
    root_device_name: Mapped[str | None] = mapped_column(sa.String(NAME))
    reservation_id: Mapped[str] = mapped_column(sa.String(NAME))
    launch_index: Mapped[int] = mapped_column(default=0)
    progress: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    locked_by: Mapped[str | None] = mapped_column(sa.String(10))
    locked_reason: Mapped[str | None] = mapped_column(sa.Text)
    # The image's properties when the server was built (what the driver boots by).
    image_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What was asked for at create: networks, security groups, scheduler hints.
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The server's ports as built: [{"port_id", "network_id", "network_label", "mac_address",
    # "fixed_ips": [{"ip_address", "version"}]}].
    network_info: Mapped[list[Any]] = mapped_column(default=list)
    launched_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(default=None, onupdate=utcnow, index=True)
    deleted_at: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(default=False)

    metadata_items: Mapped[list[InstanceMetadata]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    tags: Mapped[list[InstanceTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def metadata_dict(self) -> dict[str, str]:
        return {item.key: item.value for item in self.metadata_items}


def _instance_ref(primary_key: bool = True) -> Mapped[str]:
    return mapped_column(
        _cascade("compute_instances.uuid"), primary_key=primary_key, index=not primary_key
    )


class InstanceMetadata(Base):
    __tablename__ = "compute_instance_metadata"

    instance_uuid: Mapped[str] = _instance_ref()
    key: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(NAME))


class InstanceTag(Base):
    __tablename__ = "compute_instance_tags"

    instance_uuid: Mapped[str] = _instance_ref()
    tag: Mapped[str] = mapped_column(sa.String(80), primary_key=True)


class InstanceFloatingIP(Base):
    """A floating IP on one of a server's ports, as the network service last said (its
    ``network-changed`` events): what ``addresses`` shows beside the fixed IPs."""

    __tablename__ = "compute_instance_floating_ips"

    instance_uuid: Mapped[str] = _instance_ref(primary_key=False)
    port_id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    floating_ip_address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class InstanceFault(Base):
    __tablename__ = "compute_instance_faults"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = _instance_ref(primary_key=False)
    code: Mapped[int]
    message: Mapped[str] = mapped_column(sa.String(NAME))
    details: Mapped[str] = mapped_column(LongText, default="")
    host: Mapped[str | None] = mapped_column(sa.String(NAME))
    created_at: Mapped[datetime] = _created()


class InstanceAction(Base):
    __tablename__ = "compute_instance_actions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = _instance_ref(primary_key=False)
    action: Mapped[str] = mapped_column(sa.String(NAME))
    request_id: Mapped[str] = mapped_column(sa.String(NAME), index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(NAME))
    project_id: Mapped[str | None] = mapped_column(sa.String(NAME))
    start_time: Mapped[datetime] = mapped_column(default=utcnow)
    finish_time: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(sa.String(NAME))
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[InstanceActionEvent]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="InstanceActionEvent.id",
    )


class InstanceActionEvent(Base):
    __tablename__ = "compute_instance_action_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(_cascade("compute_instance_actions.id"), index=True)
    event: Mapped[str] = mapped_column(sa.String(NAME))
    start_time: Mapped[datetime] = mapped_column(default=utcnow)
    finish_time: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(sa.String(NAME))
    traceback: Mapped[str | None] = mapped_column(sa.Text)
    host: Mapped[str | None] = mapped_column(sa.String(NAME))
    details: Mapped[str | None] = mapped_column(sa.Text)


class Migration(Base):
    """A resize: where from, where to, and how far it got."""

    __tablename__ = "compute_migrations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(ID), unique=True)
    instance_uuid: Mapped[str] = _instance_ref(primary_key=False)
    migration_type: Mapped[str] = mapped_column(sa.String(NAME), default="resize")
    status: Mapped[str] = mapped_column(sa.String(NAME))
    source_compute: Mapped[str | None] = mapped_column(sa.String(NAME))
    source_node: Mapped[str | None] = mapped_column(sa.String(NAME))
    dest_compute: Mapped[str | None] = mapped_column(sa.String(NAME))
    dest_node: Mapped[str | None] = mapped_column(sa.String(NAME))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime | None] = _updated()


class Quota(Base):
    """A project's limit for one resource, where it differs from the configured default."""

    __tablename__ = "compute_quotas"

    project_id: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)
    resource: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)
    hard_limit: Mapped[int]


class ConsoleAuthToken(Base):
    """A short-lived, single-use right to one server's serial console: where it listens
    (``address``:``port``, as its host's agent said) and the proxy URL it was handed out
    with, whose proxy alone may claim it (over the bus)."""

    __tablename__ = "compute_console_auth_tokens"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 hex
    instance_uuid: Mapped[str] = _instance_ref(primary_key=False)
    console_type: Mapped[str] = mapped_column(sa.String(NAME))
    host: Mapped[str] = mapped_column(sa.String(NAME))
    address: Mapped[str] = mapped_column(sa.String(NAME))
    port: Mapped[int]
    proxy_url: Mapped[str] = mapped_column(sa.String(NAME))
    expires_at: Mapped[datetime]
