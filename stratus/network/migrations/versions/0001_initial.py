"""Initial network tables.

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

# Microsecond precision on MySQL and MariaDB too.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "network_agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_type", sa.String(length=64), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("configurations", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_timestamp", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_agents")),
        sa.UniqueConstraint("agent_type", "host", name=op.f("uq_network_agents_agent_type_host")),
    )
    op.create_table(
        "network_networks",
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("availability_zone_hints", sa.JSON(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_networks")),
    )
    op.create_index(op.f("ix_network_networks_project_id"), "network_networks", ["project_id"])
    op.create_table(
        "network_quotas",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_network_quotas")),
    )
    op.create_table(
        "network_security_groups",
        sa.Column("stateful", sa.Boolean(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_security_groups")),
    )
    op.create_index(
        op.f("ix_network_security_groups_project_id"), "network_security_groups", ["project_id"]
    )
    op.create_table(
        "network_subnetpools",
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_subnetpools")),
    )
    op.create_index(
        op.f("ix_network_subnetpools_project_id"), "network_subnetpools", ["project_id"]
    )
    op.create_table(
        "network_tags",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "tag", name=op.f("pk_network_tags")),
    )
    op.create_table(
        "network_default_security_groups",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["network_security_groups.id"],
            name=op.f("fk_network_default_security_groups_security_group_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_network_default_security_groups")),
        sa.UniqueConstraint(
            "security_group_id", name=op.f("uq_network_default_security_groups_security_group_id")
        ),
    )
    op.create_table(
        "network_dhcp_agent_bindings",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["network_agents.id"],
            name=op.f("fk_network_dhcp_agent_bindings_agent_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_networks.id"],
            name=op.f("fk_network_dhcp_agent_bindings_network_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("network_id", name=op.f("pk_network_dhcp_agent_bindings")),
    )
    op.create_index(
        op.f("ix_network_dhcp_agent_bindings_agent_id"), "network_dhcp_agent_bindings", ["agent_id"]
    )
    op.create_table(
        "network_ports",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("device_owner", sa.String(length=255), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("allowed_address_pairs", sa.JSON(), nullable=False),
        sa.Column("binding_host_id", sa.String(length=255), nullable=False),
        sa.Column("binding_vif_type", sa.String(length=64), nullable=False),
        sa.Column("binding_vif_details", sa.JSON(), nullable=False),
        sa.Column("binding_vnic_type", sa.String(length=64), nullable=False),
        sa.Column("binding_profile", sa.JSON(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_networks.id"],
            name=op.f("fk_network_ports_network_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_ports")),
        sa.UniqueConstraint(
            "network_id", "mac_address", name=op.f("uq_network_ports_network_id_mac_address")
        ),
    )
    op.create_index(op.f("ix_network_ports_binding_host_id"), "network_ports", ["binding_host_id"])
    op.create_index(op.f("ix_network_ports_device_id"), "network_ports", ["device_id"])
    op.create_index(op.f("ix_network_ports_network_id"), "network_ports", ["network_id"])
    op.create_index(op.f("ix_network_ports_project_id"), "network_ports", ["project_id"])
    op.create_table(
        "network_security_group_rules",
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_group_id"],
            ["network_security_groups.id"],
            name=op.f("fk_network_security_group_rules_remote_group_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["network_security_groups.id"],
            name=op.f("fk_network_security_group_rules_security_group_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_security_group_rules")),
    )
    op.create_index(
        op.f("ix_network_security_group_rules_project_id"),
        "network_security_group_rules",
        ["project_id"],
    )
    op.create_index(
        op.f("ix_network_security_group_rules_security_group_id"),
        "network_security_group_rules",
        ["security_group_id"],
    )
    op.create_table(
        "network_segments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("network_type", sa.String(length=16), nullable=False),
        sa.Column("physical_network", sa.String(length=64), nullable=True),
        sa.Column("segmentation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_networks.id"],
            name=op.f("fk_network_segments_network_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_segments")),
    )
    op.create_index(op.f("ix_network_segments_network_id"), "network_segments", ["network_id"])
    op.create_table(
        "network_subnets",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(length=32), nullable=True),
        sa.Column("ipv6_address_mode", sa.String(length=32), nullable=True),
        sa.Column("subnetpool_id", sa.String(length=36), nullable=True),
        sa.Column("allocation_pools", sa.JSON(), nullable=False),
        sa.Column("dns_nameservers", sa.JSON(), nullable=False),
        sa.Column("host_routes", sa.JSON(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_networks.id"],
            name=op.f("fk_network_subnets_network_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subnetpool_id"],
            ["network_subnetpools.id"],
            name=op.f("fk_network_subnets_subnetpool_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_subnets")),
    )
    op.create_index(op.f("ix_network_subnets_network_id"), "network_subnets", ["network_id"])
    op.create_index(op.f("ix_network_subnets_project_id"), "network_subnets", ["project_id"])
    op.create_index(op.f("ix_network_subnets_subnetpool_id"), "network_subnets", ["subnetpool_id"])
    op.create_table(
        "network_ip_allocations",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_ip_allocations_port_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["network_subnets.id"],
            name=op.f("fk_network_ip_allocations_subnet_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subnet_id", "ip_address", name=op.f("pk_network_ip_allocations")),
    )
    op.create_index(
        op.f("ix_network_ip_allocations_network_id"), "network_ip_allocations", ["network_id"]
    )
    op.create_index(
        op.f("ix_network_ip_allocations_port_id"), "network_ip_allocations", ["port_id"]
    )
    op.create_table(
        "network_port_security_groups",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_port_security_groups_port_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["network_security_groups.id"],
            name=op.f("fk_network_port_security_groups_security_group_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "security_group_id", name=op.f("pk_network_port_security_groups")
        ),
    )
    op.create_index(
        op.f("ix_network_port_security_groups_security_group_id"),
        "network_port_security_groups",
        ["security_group_id"],
    )
    op.create_table(
        "network_routers",
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gw_port_id", sa.String(length=36), nullable=True),
        sa.Column("enable_snat", sa.Boolean(), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("availability_zone_hints", sa.JSON(), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gw_port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_routers_gw_port_id"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_routers")),
    )
    op.create_index(op.f("ix_network_routers_project_id"), "network_routers", ["project_id"])
    op.create_table(
        "network_segment_allocations",
        sa.Column("network_type", sa.String(length=16), nullable=False),
        sa.Column("physical_network", sa.String(length=64), nullable=False),
        sa.Column("segmentation_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["network_segments.id"],
            name=op.f("fk_network_segment_allocations_segment_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "network_type",
            "physical_network",
            "segmentation_id",
            name=op.f("pk_network_segment_allocations"),
        ),
        sa.UniqueConstraint("segment_id", name=op.f("uq_network_segment_allocations_segment_id")),
    )
    op.create_table(
        "network_floating_ips",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("fixed_port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fixed_port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_floating_ips_fixed_port_id"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["floating_network_id"],
            ["network_networks.id"],
            name=op.f("fk_network_floating_ips_floating_network_id"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["floating_port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_floating_ips_floating_port_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["network_routers.id"],
            name=op.f("fk_network_floating_ips_router_id"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_floating_ips")),
        sa.UniqueConstraint(
            "floating_network_id",
            "fixed_port_id",
            "fixed_ip_address",
            name=op.f("uq_network_floating_ips_floating_network_id_fixed_port_id_fixed_ip_address"),
        ),
        sa.UniqueConstraint(
            "floating_port_id", name=op.f("uq_network_floating_ips_floating_port_id")
        ),
    )
    op.create_index(
        op.f("ix_network_floating_ips_fixed_port_id"), "network_floating_ips", ["fixed_port_id"]
    )
    op.create_index(
        op.f("ix_network_floating_ips_floating_network_id"),
        "network_floating_ips",
        ["floating_network_id"],
    )
    op.create_index(
        op.f("ix_network_floating_ips_project_id"), "network_floating_ips", ["project_id"]
    )
    op.create_index(
        op.f("ix_network_floating_ips_router_id"), "network_floating_ips", ["router_id"]
    )
    op.create_table(
        "network_router_l3_agent_bindings",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["network_agents.id"],
            name=op.f("fk_network_router_l3_agent_bindings_agent_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["network_routers.id"],
            name=op.f("fk_network_router_l3_agent_bindings_router_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("router_id", name=op.f("pk_network_router_l3_agent_bindings")),
    )
    op.create_index(
        op.f("ix_network_router_l3_agent_bindings_agent_id"),
        "network_router_l3_agent_bindings",
        ["agent_id"],
    )
    op.create_table(
        "network_router_ports",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_router_ports_port_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["network_routers.id"],
            name=op.f("fk_network_router_ports_router_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("router_id", "port_id", name=op.f("pk_network_router_ports")),
        sa.UniqueConstraint("port_id", name=op.f("uq_network_router_ports_port_id")),
    )


def downgrade() -> None:
    op.drop_table("network_router_ports")
    op.drop_table("network_router_l3_agent_bindings")
    op.drop_table("network_floating_ips")
    op.drop_table("network_segment_allocations")
    op.drop_table("network_routers")
    op.drop_table("network_port_security_groups")
    op.drop_table("network_ip_allocations")
    op.drop_table("network_subnets")
    op.drop_table("network_segments")
    op.drop_table("network_security_group_rules")
    op.drop_table("network_ports")
    op.drop_table("network_dhcp_agent_bindings")
    op.drop_table("network_default_security_groups")
    op.drop_table("network_tags")
    op.drop_table("network_subnetpools")
    op.drop_table("network_security_groups")
    op.drop_table("network_quotas")
    op.drop_table("network_networks")
    op.drop_table("network_agents")
