"""Console tokens of the websocket proxy, and each host's proxy URL.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "container_console_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("container_uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("exec_id", sa.String(length=64), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_container_console_tokens")),
    )
    op.create_index(
        op.f("ix_container_console_tokens_container_uuid"),
        "container_console_tokens",
        ["container_uuid"],
    )
    with op.batch_alter_table("container_hosts") as batch_op:
        batch_op.add_column(sa.Column("console_url", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("container_hosts") as batch_op:
        batch_op.drop_column("console_url")
    op.drop_table("container_console_tokens")
