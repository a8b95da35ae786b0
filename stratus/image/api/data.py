"""Image data: uploads streamed to the store in bounded chunks, hashed on the way, and
downloads streamed back (whole or one byte range).

An upload moves the image queued → saving → active. Whatever stops it early (the
client going away, the size cap, a full disk, the image being deleted meanwhile)
puts the image back to queued and leaves no file behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from stratus.image.api.access import Backend, find_image, target
from stratus.image.models import Image
from stratus.image.store import FileStore, SizeCapExceeded, StoredData, StoreFull
from stratus.runtime.api.auth import authenticated
from stratus.runtime.api.context import RequestContext
from stratus.runtime.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    error_for_status,
)
from stratus.runtime.api.routing import Router, app_backend
from stratus.runtime.db import utcnow

router = Router(prefix="/v2/images/{image_id}")

DATA_TYPE = "application/octet-stream"
WRITE_CHUNK = 4 * 1024 * 1024  # bytes gathered from the request before each disk write
READ_CHUNK = 1024 * 1024  # bytes read from disk for each piece of a download


_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {DATA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put("/file", status_code=204, openapi_extra=_BINARY_BODY)
async def upload_image_data(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != DATA_TYPE:
        raise UnsupportedMediaType(
            f"Content type {content_type or '(none)'!r} is not supported; use {DATA_TYPE}."
        )
    declared = _declared_size(request.headers)
    await run_in_threadpool(_claim, api, ctx, image_id, declared)
    try:
        stored = await _receive(request, api.store, image_id)
    except BaseException as exc:
        # Synchronous on purpose: this must also run when the request is cancelled.
        _requeue(api, image_id)
        if isinstance(exc, SizeCapExceeded | StoreFull):
            raise PayloadTooLarge(str(exc)) from exc
        if isinstance(exc, OSError):
            raise ServiceUnavailable(f"Storing the image data failed: {exc}") from exc
        if isinstance(exc, ClientDisconnect):
            raise BadRequest("The client went away before the upload finished.") from exc
        raise
    await run_in_threadpool(_activate, api, image_id, stored)
    return Response(status_code=204)


@router.get("/file")
def download_image_data(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(authenticated),
    api: Backend = Depends(app_backend),
) -> Response:
    with api.db.session() as session:
        image = find_image(session, ctx, image_id)
        api.policy.enforce(ctx, "download_image", target(image))
        if image.status == "deactivated" and not ctx.is_admin:
            raise Forbidden(f"Image {image_id} is deactivated; its data cannot be downloaded.")
        if image.status not in ("active", "deactivated") or image.size is None:
            return Response(status_code=204)
        size, checksum = image.size, image.checksum
    span = byte_range(request.headers.get("range"), size)
    try:
        handle = api.store.open(image_id)
    except FileNotFoundError as exc:
        raise NotFound(f"The data of image {image_id} is missing from the image store.") from exc
    if span is None:
        headers = {"Content-Length": str(size), "Accept-Ranges": "bytes"}
        if checksum:
            headers["Content-MD5"] = checksum
        return StreamingResponse(
            _read(handle, 0, size), status_code=200, media_type=DATA_TYPE, headers=headers
        )
    start, end = span
    length = end - start + 1
    headers = {"Content-Length": str(length), "Content-Range": f"bytes {start}-{end}/{size}"}
    return StreamingResponse(
        _read(handle, start, length), status_code=206, media_type=DATA_TYPE, headers=headers
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte one ``Range: bytes=...`` asks for; None to send the whole
    data (no header, or one this API ignores: other units, several ranges, bad syntax,
    as RFC 9110 allows); a 416 when the range lies beyond the data."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            raise _unsatisfiable(size)
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApiError:
    error = error_for_status(416, f"The requested range is not within the {size} bytes of data.")
    error.headers["Content-Range"] = f"bytes */{size}"
    return error


def _read(handle: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(offset)
        while length > 0:
            block = handle.read(min(READ_CHUNK, length))
            if not block:
                return
            length -= len(block)
            yield block


def _declared_size(headers: Headers) -> int | None:
    """The size the client announces (Content-Length or X-OpenStack-Image-Size)."""
    for name in ("x-openstack-image-size", "content-length"):
        raw = headers.get(name)
        if raw is not None:
            if not raw.strip().isdigit():
                raise BadRequest(f"Header {name} must be a non-negative integer, not {raw!r}.")
            return int(raw)
    return None


def _claim(api: Backend, ctx: RequestContext, image_id: str, declared: int | None) -> None:
    """Check the upload may start, and mark the image saving (one upload at a time)."""
    with api.db.session() as session:
        image = find_image(session, ctx, image_id)
        api.policy.enforce(ctx, "upload_image", target(image))
        if image.status != "queued":
            raise Conflict(
                f"Image {image_id} is {image.status}; data can only be uploaded to a queued image."
            )
        if image.disk_format is None or image.container_format is None:
            raise BadRequest("Set disk_format and container_format before uploading data.")
        if declared is not None and declared > api.store.size_cap:
            raise PayloadTooLarge(
                f"The image data ({declared} bytes) exceeds the size cap of "
                f"{api.store.size_cap} bytes."
            )
        if not _move(session, image_id, "queued", status="saving"):
            raise Conflict(f"Image {image_id} is already receiving data.")


async def _receive(request: Request, store: FileStore, image_id: str) -> StoredData:
    """Write the request body to the store, gathering at most WRITE_CHUNK in memory."""
    with store.begin(image_id) as upload:
        pending = bytearray()
        async for piece in request.stream():
            pending += piece
            if len(pending) >= WRITE_CHUNK:
                block, pending = pending, bytearray()
                await run_in_threadpool(upload.write, block)
        if pending:
            await run_in_threadpool(upload.write, pending)
        return await run_in_threadpool(upload.commit)


def _activate(api: Backend, image_id: str, stored: StoredData) -> None:
    try:
        with api.db.session() as session:
            activated = _move(
                session,
                image_id,
                "saving",
                status="active",
                size=stored.size,
                checksum=stored.checksum,
                os_hash_algo=stored.hash_algo,
                os_hash_value=stored.hash_value,
            )
    except BaseException:
        api.store.delete(image_id)
        _requeue(api, image_id)
        raise
    if not activated:
        api.store.delete(image_id)
        raise Gone(f"Image {image_id} was deleted while its data was being uploaded.")


def _requeue(api: Backend, image_id: str) -> None:
    with api.db.session() as session:
        _move(session, image_id, "saving", status="queued")


def _move(session: Session, image_id: str, source: str, **values: object) -> bool:
    """Update the image only if it is (still) in ``source`` status."""
    result = session.execute(
        sa.update(Image)
        .where(Image.id == image_id, Image.status == source)
        .values(updated_at=utcnow(), **values)
    )
    return result.rowcount == 1
