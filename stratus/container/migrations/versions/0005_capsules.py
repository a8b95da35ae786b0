"""Capsules, and each container's capsule.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "container_capsules",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("restart_policy", sa.JSON(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_container_capsules")),
    )
    op.create_index(op.f("ix_container_capsules_name"), "container_capsules", ["name"])
    op.create_index(op.f("ix_container_capsules_project_id"), "container_capsules", ["project_id"])
    op.create_index(op.f("ix_container_capsules_created_at"), "container_capsules", ["created_at"])
    with op.batch_alter_table("container_containers") as batch_op:
        batch_op.add_column(sa.Column("capsule_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_container_containers_capsule_id"), ["capsule_id"])


def downgrade() -> None:
    with op.batch_alter_table("container_containers") as batch_op:
        batch_op.drop_index(batch_op.f("ix_container_containers_capsule_id"))
        batch_op.drop_column("capsule_id")
    op.drop_table("container_capsules")
