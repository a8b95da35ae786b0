"""The cloud's default public images, registered by ``stratus bootstrap`` from the
manifests that ``tools/build-guest-image.sh`` and ``tools/build-container-image.sh`` write
(the role CirrOS and a registry's busybox play elsewhere).

A manifest is ``{"name": ..., "images": [entry, ...]}``; an entry names its data file
(beside the manifest), formats, sizes and properties. A property ``kernel_id`` or
``ramdisk_id`` may name another entry of the same manifest: it becomes that image's id.
``image_name`` (default ``name``) is the name the image gets in the image service.

Like the other services' bootstrap steps, this is the image service's own code writing
its own store and tables (as ``glance-manage`` would); every image whose name an active
public image already has is left as it is, so bootstrap can run again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from stratus.image import options  # noqa: F401 - declares the [image] options
from stratus.image.models import Image, ImageProperty
from stratus.image.store import FileStore
from stratus.runtime import migrations
from stratus.runtime.db import Database, new_id, utcnow
from stratus.runtime.process import Runtime

CHUNK = 1 << 20
_IMAGE_REFS = ("kernel_id", "ramdisk_id")


class ManifestError(RuntimeError):
    """A manifest that cannot be read or names a file that is not there."""


def register_manifests(runtime: Runtime, owner: str, manifests: Iterable[Path]) -> list[str]:
    """Register every image of the manifests as public images of ``owner``; return the
    names of the images registered now (those already there are skipped)."""
    db = runtime.database("image")
    migrations.upgrade("image", db)
    store = FileStore(Path(runtime.conf.image.store_dir), runtime.conf.image.image_size_cap)
    registered: list[str] = []
    for manifest in manifests:
        ids: dict[str, str] = {}
        for entry in _entries(manifest):
            name = entry.get("image_name") or entry["name"]
            found = _existing(db, name)
            if found is None:
                properties = _properties(entry, ids, manifest)
                found = _register(db, store, owner, name, entry, manifest.parent, properties)
                registered.append(name)
            ids[entry["name"]] = found
    return registered


def _entries(manifest: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(manifest.read_text())["images"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"cannot read the image manifest {manifest}: {exc}") from exc


def _properties(entry: dict[str, Any], ids: dict[str, str], manifest: Path) -> dict[str, str]:
    properties = {key: str(value) for key, value in (entry.get("properties") or {}).items()}
    for key in _IMAGE_REFS:
        if key in properties:
            if properties[key] not in ids:
                raise ManifestError(
                    f"{manifest}: {entry['name']}'s {key} names {properties[key]!r}, "
                    "which no earlier entry of the manifest is"
                )
            properties[key] = ids[properties[key]]
    return properties


def _existing(db: Database, name: str) -> str | None:
    with db.session() as session:
        return session.scalar(
            sa.select(Image.id)
            .where(Image.name == name, Image.visibility == "public", Image.status == "active")
            .order_by(Image.created_at)
            .limit(1)
        )


def _register(
    db: Database,
    store: FileStore,
    owner: str,
    name: str,
    entry: dict[str, Any],
    folder: Path,
    properties: dict[str, str],
) -> str:
    """Store the data first, then record the image active: never a row without data."""
    image_id = new_id()
    path = folder / entry["file"]
    try:
        with path.open("rb") as source, store.begin(image_id) as upload:
            while chunk := source.read(CHUNK):
                upload.write(chunk)
            stored = upload.commit()
    except FileNotFoundError as exc:
        raise ManifestError(f"the image file {path} is missing: build it first") from exc
    now = utcnow()
    try:
        with db.session() as session:
            session.add(
                Image(
                    id=image_id,
                    name=name,
                    status="active",
                    visibility="public",
                    owner=owner,
                    disk_format=entry["disk_format"],
                    container_format=entry["container_format"],
                    size=stored.size,
                    virtual_size=entry.get("virtual_size"),
                    checksum=stored.checksum,
                    os_hash_algo=stored.hash_algo,
                    os_hash_value=stored.hash_value,
                    min_disk=entry.get("min_disk", 0),
                    min_ram=entry.get("min_ram", 0),
                    created_at=now,
                    updated_at=now,
                    properties=[ImageProperty(name=k, value=v) for k, v in properties.items()],
                )
            )
    except BaseException:
        store.delete(image_id)
        raise
    return image_id
