"""The upload loop on its own: bounded chunks in, one complete file or nothing out."""

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.requests import ClientDisconnect

from stratus.image.api import data
from stratus.image.store import FileStore, SizeCapExceeded, Upload

IMAGE_ID = "7d5c3f0e-9a43-4a39-8d7e-6d1a7b9a5c21"
PIECE = 256 * 1024


class FakeRequest:
    """A request body arriving in pieces, optionally cut off after some of them."""

    def __init__(self, pieces: list[bytes], then: BaseException | None = None) -> None:
        self.pieces = pieces
        self.then = then

    async def stream(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            await asyncio.sleep(0)
            yield piece
        if self.then is not None:
            raise self.then


def files(store: FileStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()]


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "images", size_cap=64 * 1024 * 1024)


def test_pieces_are_gathered_into_bounded_writes(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real_write = Upload.write
    monkeypatch.setattr(
        Upload, "write", lambda self, chunk: (writes.append(len(chunk)), real_write(self, chunk))
    )
    pieces = [os.urandom(PIECE) for _ in range(70)] + [b"tail"]
    stored = asyncio.run(data._receive(FakeRequest(pieces), store, IMAGE_ID))  # type: ignore[arg-type]
    body = b"".join(pieces)
    assert stored.size == len(body) and stored.checksum == hashlib.md5(body).hexdigest()
    assert store.path(IMAGE_ID).read_bytes() == body
    assert files(store) == [store.path(IMAGE_ID)]
    assert writes[:4] == [data.WRITE_CHUNK] * 4 and sum(writes) == len(body)


@pytest.mark.parametrize("error", [ClientDisconnect(), asyncio.CancelledError(), OSError(5, "EIO")])
def test_an_interrupted_upload_leaves_no_file(store: FileStore, error: BaseException) -> None:
    request = FakeRequest([os.urandom(PIECE) for _ in range(40)], then=error)
    with pytest.raises(type(error)):
        asyncio.run(data._receive(request, store, IMAGE_ID))  # type: ignore[arg-type]
    assert files(store) == []


def test_the_size_cap_stops_an_upload(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "images", size_cap=5 * 1024 * 1024)
    request = FakeRequest([os.urandom(PIECE) for _ in range(40)])
    with pytest.raises(SizeCapExceeded):
        asyncio.run(data._receive(request, store, IMAGE_ID))  # type: ignore[arg-type]
    assert files(store) == []
