"""Initial image tables.

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


def _image_ref() -> sa.Column:
    return sa.Column("image_id", sa.String(length=36), nullable=False)


def _cascade(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["image_id"], ["image_images.id"], name=op.f(f"fk_{table}_image_id"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "image_images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("os_hidden", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("disk_format", sa.String(length=20), nullable=True),
        sa.Column("container_format", sa.String(length=20), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("virtual_size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=32), nullable=True),
        sa.Column("os_hash_algo", sa.String(length=64), nullable=True),
        sa.Column("os_hash_value", sa.String(length=128), nullable=True),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_images")),
    )
    for column in ("created_at", "name", "os_hash_value", "owner", "status", "visibility"):
        op.create_index(op.f(f"ix_image_images_{column}"), "image_images", [column])
    op.create_table(
        "image_members",
        _image_ref(),
        sa.Column("member", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        _cascade("image_members"),
        sa.PrimaryKeyConstraint("image_id", "member", name=op.f("pk_image_members")),
    )
    op.create_index(op.f("ix_image_members_member"), "image_members", ["member"])
    op.create_table(
        "image_properties",
        _image_ref(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _cascade("image_properties"),
        sa.PrimaryKeyConstraint("image_id", "name", name=op.f("pk_image_properties")),
    )
    op.create_table(
        "image_tags",
        _image_ref(),
        sa.Column("value", sa.String(length=255), nullable=False),
        _cascade("image_tags"),
        sa.PrimaryKeyConstraint("image_id", "value", name=op.f("pk_image_tags")),
    )


def downgrade() -> None:
    for table in ("image_tags", "image_properties", "image_members", "image_images"):
        op.drop_table(table)
