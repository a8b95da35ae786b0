"""Serial console tokens.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "compute_console_auth_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("console_type", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("proxy_url", sa.String(length=255), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["compute_instances.uuid"],
            name=op.f("fk_compute_console_auth_tokens_instance_uuid"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_compute_console_auth_tokens")),
    )
    op.create_index(
        op.f("ix_compute_console_auth_tokens_instance_uuid"),
        "compute_console_auth_tokens",
        ["instance_uuid"],
    )


def downgrade() -> None:
    op.drop_table("compute_console_auth_tokens")
