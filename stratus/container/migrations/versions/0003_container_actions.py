"""Container actions and their events (Zun's container_actions).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "container_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("container_uuid", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("start_time", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_container_actions")),
    )
    op.create_index(
        op.f("ix_container_actions_container_uuid"), "container_actions", ["container_uuid"]
    )
    op.create_table(
        "container_action_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("start_time", TIMESTAMP, nullable=False),
        sa.Column("finish_time", TIMESTAMP, nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["container_actions.id"],
            name=op.f("fk_container_action_events_action_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_container_action_events")),
    )
    op.create_index(
        op.f("ix_container_action_events_action_id"), "container_action_events", ["action_id"]
    )


def downgrade() -> None:
    op.drop_table("container_action_events")
    op.drop_table("container_actions")
