"""Initial container tables

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

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "container_containers",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("image", sa.String(length=255), nullable=False),
        sa.Column("image_driver", sa.String(length=16), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("command", sa.JSON(), nullable=True),
        sa.Column("entrypoint", sa.JSON(), nullable=True),
        sa.Column("cpu", sa.Float(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("workdir", sa.String(length=255), nullable=True),
        sa.Column("hostname", sa.String(length=63), nullable=True),
        sa.Column("restart_policy", sa.JSON(), nullable=True),
        sa.Column("interactive", sa.Boolean(), nullable=False),
        sa.Column("tty", sa.Boolean(), nullable=False),
        sa.Column("auto_remove", sa.Boolean(), nullable=False),
        sa.Column("nets", sa.JSON(), nullable=False),
        sa.Column("security_groups", sa.JSON(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_detail", sa.String(length=255), nullable=True),
        sa.Column("task_state", sa.String(length=30), nullable=True),
        sa.Column("start_requested", sa.Boolean(), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_container_containers")),
    )
    with op.batch_alter_table("container_containers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_container_containers_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_container_containers_host"), ["host"], unique=False)
        batch_op.create_index(batch_op.f("ix_container_containers_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_container_containers_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_container_containers_status"), ["status"], unique=False
        )

    op.create_table(
        "container_hosts",
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("cpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("driver_status", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("last_seen_up", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("hostname", name=op.f("pk_container_hosts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_container_hosts_uuid")),
    )
    op.create_table(
        "container_quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("hard_limit", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_container_quotas")),
    )


def downgrade() -> None:
    op.drop_table("container_quotas")
    op.drop_table("container_hosts")
    with op.batch_alter_table("container_containers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_container_containers_status"))
        batch_op.drop_index(batch_op.f("ix_container_containers_project_id"))
        batch_op.drop_index(batch_op.f("ix_container_containers_name"))
        batch_op.drop_index(batch_op.f("ix_container_containers_host"))
        batch_op.drop_index(batch_op.f("ix_container_containers_created_at"))

    op.drop_table("container_containers")
