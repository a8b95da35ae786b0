"""Floating IPs on servers' ports.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compute_instance_floating_ips",
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_instance_floating_ips_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "floating_ip_address", name=op.f("pk_compute_instance_floating_ips")
        ),
    )
    op.create_index(
        op.f("ix_compute_instance_floating_ips_instance_uuid"),
        "compute_instance_floating_ips",
        ["instance_uuid"],
    )


def downgrade() -> None:
    op.drop_table("compute_instance_floating_ips")
