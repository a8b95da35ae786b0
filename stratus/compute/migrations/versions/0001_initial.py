"""Initial compute tables.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Microsecond times and long text on MySQL and MariaDB too.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

TABLES = (
    "compute_aggregates",
    "compute_flavors",
    "compute_instances",
    "compute_key_pairs",
    "compute_nodes",
    "compute_quotas",
    "compute_server_groups",
    "compute_services",
    "compute_aggregate_hosts",
    "compute_aggregate_metadata",
    "compute_allocations",
    "compute_flavor_extra_specs",
    "compute_flavor_projects",
    "compute_instance_actions",
    "compute_instance_faults",
    "compute_instance_metadata",
    "compute_instance_tags",
    "compute_migrations",
    "compute_server_group_members",
    "compute_instance_action_events",
)


def upgrade() -> None:
    op.create_table(
        "compute_aggregates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_aggregates")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_aggregates_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_aggregates_uuid")),
    )
    op.create_table(
        "compute_flavors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flavorid", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("root_gb", sa.Integer(), nullable=False),
        sa.Column("ephemeral_gb", sa.Integer(), nullable=False),
        sa.Column("swap", sa.Integer(), nullable=False),
        sa.Column("rxtx_factor", sa.Double(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_flavors")),
        sa.UniqueConstraint("flavorid", name=op.f("uq_compute_flavors_flavorid")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_flavors_name")),
    )
    op.create_table(
        "compute_instances",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("display_description", sa.Text(), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("image_ref", sa.String(length=255), nullable=False),
        sa.Column("flavor", sa.JSON(), nullable=False),
        sa.Column("old_flavor", sa.JSON(), nullable=True),
        sa.Column("new_flavor", sa.JSON(), nullable=True),
        sa.Column("vm_state", sa.String(length=255), nullable=False),
        sa.Column("task_state", sa.String(length=255), nullable=True),
        sa.Column("power_state", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("key_data", sa.Text(), nullable=True),
        sa.Column(
            "user_data",
            LONG_TEXT,
            nullable=True,
        ),
        sa.Column("config_drive", sa.String(length=255), nullable=False),
        sa.Column("access_ip_v4", sa.String(length=64), nullable=True),
        sa.Column("access_ip_v6", sa.String(length=64), nullable=True),
        sa.Column("kernel_id", sa.String(length=255), nullable=False),
        sa.Column("ramdisk_id", sa.String(length=255), nullable=False),
        sa.Column("root_device_name", sa.String(length=255), nullable=True),
        sa.Column("reservation_id", sa.String(length=255), nullable=False),
        sa.Column("launch_index", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_by", sa.String(length=10), nullable=True),
        sa.Column("locked_reason", sa.Text(), nullable=True),
        sa.Column("image_properties", sa.JSON(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("network_info", sa.JSON(), nullable=False),
        sa.Column(
            "launched_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column(
            "terminated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column(
            "deleted_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_compute_instances")),
    )
    op.create_index(op.f("ix_compute_instances_created_at"), "compute_instances", ["created_at"])
    op.create_index(
        op.f("ix_compute_instances_display_name"), "compute_instances", ["display_name"]
    )
    op.create_index(op.f("ix_compute_instances_host"), "compute_instances", ["host"])
    op.create_index(
        "ix_compute_instances_project_deleted", "compute_instances", ["project_id", "deleted"]
    )
    op.create_index(op.f("ix_compute_instances_updated_at"), "compute_instances", ["updated_at"])
    op.create_index(op.f("ix_compute_instances_vm_state"), "compute_instances", ["vm_state"])

    op.create_table(
        "compute_key_pairs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_key_pairs")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_compute_key_pairs_user_id_name")),
    )
    op.create_index(op.f("ix_compute_key_pairs_user_id"), "compute_key_pairs", ["user_id"])

    op.create_table(
        "compute_nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_hostname", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_type", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_version", sa.Integer(), nullable=False),
        sa.Column("host_ip", sa.String(length=64), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("local_gb", sa.Integer(), nullable=False),
        sa.Column("vcpus_used", sa.Integer(), nullable=False),
        sa.Column("memory_mb_used", sa.Integer(), nullable=False),
        sa.Column("local_gb_used", sa.Integer(), nullable=False),
        sa.Column("reserved_vcpus", sa.Integer(), nullable=False),
        sa.Column("reserved_memory_mb", sa.Integer(), nullable=False),
        sa.Column("reserved_disk_gb", sa.Integer(), nullable=False),
        sa.Column("cpu_allocation_ratio", sa.Double(), nullable=False),
        sa.Column("ram_allocation_ratio", sa.Double(), nullable=False),
        sa.Column("disk_allocation_ratio", sa.Double(), nullable=False),
        sa.Column("cpu_info", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_nodes")),
        sa.UniqueConstraint(
            "hypervisor_hostname", name=op.f("uq_compute_nodes_hypervisor_hostname")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_nodes_uuid")),
    )
    op.create_index(op.f("ix_compute_nodes_host"), "compute_nodes", ["host"])

    op.create_table(
        "compute_quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_compute_quotas")),
    )
    op.create_table(
        "compute_server_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_server_groups")),
    )
    op.create_index(
        op.f("ix_compute_server_groups_project_id"), "compute_server_groups", ["project_id"]
    )

    op.create_table(
        "compute_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("forced_down", sa.Boolean(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column(
            "last_seen_up",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_services")),
        sa.UniqueConstraint("host", "binary", name=op.f("uq_compute_services_host_binary")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_services_uuid")),
    )
    op.create_table(
        "compute_aggregate_hosts",
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["aggregate_id"],
            ["compute_aggregates.id"],
            name=op.f("fk_compute_aggregate_hosts_aggregate_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("aggregate_id", "host", name=op.f("pk_compute_aggregate_hosts")),
    )
    op.create_index(op.f("ix_compute_aggregate_hosts_host"), "compute_aggregate_hosts", ["host"])

    op.create_table(
        "compute_aggregate_metadata",
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["aggregate_id"],
            ["compute_aggregates.id"],
            name=op.f("fk_compute_aggregate_metadata_aggregate_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("aggregate_id", "key", name=op.f("pk_compute_aggregate_metadata")),
    )
    op.create_table(
        "compute_allocations",
        sa.Column("consumer_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("disk_gb", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["compute_nodes.id"],
            name=op.f("fk_compute_allocations_node_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consumer_id", "node_id", name=op.f("pk_compute_allocations")),
    )
    op.create_table(
        "compute_flavor_extra_specs",
        sa.Column("flavor_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["flavor_id"],
            ["compute_flavors.id"],
            name=op.f("fk_compute_flavor_extra_specs_flavor_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flavor_id", "key", name=op.f("pk_compute_flavor_extra_specs")),
    )
    op.create_table(
        "compute_flavor_projects",
        sa.Column("flavor_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["flavor_id"],
            ["compute_flavors.id"],
            name=op.f("fk_compute_flavor_projects_flavor_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flavor_id", "project_id", name=op.f("pk_compute_flavor_projects")),
    )
    op.create_table(
        "compute_instance_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column(
            "start_time",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "finish_time",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column("message", sa.String(length=255), nullable=True),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_instance_actions_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_instance_actions")),
    )
    op.create_index(
        op.f("ix_compute_instance_actions_instance_uuid"),
        "compute_instance_actions",
        ["instance_uuid"],
    )
    op.create_index(
        op.f("ix_compute_instance_actions_request_id"), "compute_instance_actions", ["request_id"]
    )

    op.create_table(
        "compute_instance_faults",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=255), nullable=False),
        sa.Column(
            "details",
            LONG_TEXT,
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_instance_faults_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_instance_faults")),
    )
    op.create_index(
        op.f("ix_compute_instance_faults_instance_uuid"),
        "compute_instance_faults",
        ["instance_uuid"],
    )

    op.create_table(
        "compute_instance_metadata",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_instance_metadata_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_uuid", "key", name=op.f("pk_compute_instance_metadata")),
    )
    op.create_table(
        "compute_instance_tags",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_instance_tags_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_uuid", "tag", name=op.f("pk_compute_instance_tags")),
    )
    op.create_table(
        "compute_migrations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("migration_type", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("source_compute", sa.String(length=255), nullable=True),
        sa.Column("source_node", sa.String(length=255), nullable=True),
        sa.Column("dest_compute", sa.String(length=255), nullable=True),
        sa.Column("dest_node", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            TIMESTAMP,
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_migrations_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_migrations")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_migrations_uuid")),
    )
    op.create_index(
        op.f("ix_compute_migrations_instance_uuid"), "compute_migrations", ["instance_uuid"]
    )

    op.create_table(
        "compute_server_group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["compute_server_groups.id"],
            name=op.f("fk_compute_server_group_members_group_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "group_id", "instance_uuid", name=op.f("pk_compute_server_group_members")
        ),
        sa.UniqueConstraint(
            "instance_uuid", name=op.f("uq_compute_server_group_members_instance_uuid")
        ),
    )
    op.create_table(
        "compute_instance_action_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column(
            "start_time",
            TIMESTAMP,
            nullable=False,
        ),
        sa.Column(
            "finish_time",
            TIMESTAMP,
            nullable=True,
        ),
        sa.Column("result", sa.String(length=255), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["compute_instance_actions.id"],
            name=op.f("fk_compute_instance_action_events_action_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_instance_action_events")),
    )
    op.create_index(
        op.f("ix_compute_instance_action_events_action_id"),
        "compute_instance_action_events",
        ["action_id"],
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
