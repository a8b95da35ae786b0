"""The image service's tables: images, their custom properties, tags and members.

Deleting an image deletes its row and, by cascade, its properties, tags and members;
ids are UUIDs, so a deleted image's id is never handed out again by accident.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from stratus.runtime.db import utcnow

# Microseconds on every database, so that the default sort (newest first) is stable.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

ID_LENGTH = 36
NAME_LENGTH = 255
PROJECT_LENGTH = 255


class Base(DeclarativeBase):
    # Named constraints, so that later migrations can alter them on every database.
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Image(Base):
    __tablename__ = "image_images"

    id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(NAME_LENGTH), index=True)
    status: Mapped[str] = mapped_column(sa.String(30), index=True)
    visibility: Mapped[str] = mapped_column(sa.String(20), index=True)
    protected: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(sa.String(PROJECT_LENGTH), index=True)
    disk_format: Mapped[str | None] = mapped_column(sa.String(20))
    container_format: Mapped[str | None] = mapped_column(sa.String(20))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    checksum: Mapped[str | None] = mapped_column(sa.String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(sa.String(64))
    os_hash_value: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    min_disk: Mapped[int] = mapped_column(sa.Integer, default=0)
    min_ram: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    properties: Mapped[list[ImageProperty]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    tags: Mapped[list[ImageTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


def _image_ref() -> Mapped[str]:
    return mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("image_images.id", ondelete="CASCADE"), primary_key=True
    )


class ImageProperty(Base):
    """A custom (string valued) property of an image."""

    __tablename__ = "image_properties"

    image_id: Mapped[str] = _image_ref()
    name: Mapped[str] = mapped_column(sa.String(NAME_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class ImageTag(Base):
    __tablename__ = "image_tags"

    image_id: Mapped[str] = _image_ref()
    value: Mapped[str] = mapped_column(sa.String(NAME_LENGTH), primary_key=True)


class ImageMember(Base):
    """A project an image is shared with, and whether it accepted the image."""

    __tablename__ = "image_members"

    image_id: Mapped[str] = _image_ref()
    member: Mapped[str] = mapped_column(sa.String(PROJECT_LENGTH), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
