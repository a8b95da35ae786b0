"""Ports the network service failed to free, freed again later.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "container_unfreed_ports",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("preserve", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("port_id", name=op.f("pk_container_unfreed_ports")),
    )


def downgrade() -> None:
    op.drop_table("container_unfreed_ports")
