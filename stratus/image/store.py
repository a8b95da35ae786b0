"""The file store: image data as one file per image under ``store_dir``.

An upload is written to a temporary file in ``store_dir/tmp`` (same file system), hashed
as it goes, flushed to disk and only then renamed to its final name, so an image's file
is either complete or absent: never half written. Nothing else in the service touches
these files.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HASH_ALGO = "sha512"
_SAFE_ID = re.compile(r"^[0-9a-fA-F-]{1,64}$")


class SizeCapExceeded(Exception):
    """The data is larger than ``image_size_cap`` allows."""


class StoreFull(Exception):
    """The disk holding the store has no room left."""


@dataclass(frozen=True)
class StoredData:
    size: int
    checksum: str  # md5, hex
    hash_algo: str
    hash_value: str


class Upload:
    """One upload in progress: :meth:`write` chunks, then :meth:`commit` or :meth:`abort`.

    Each chunk is hashed (MD5 and SHA-512 side by side) and written by two worker
    threads while the caller gathers the next one; hashlib and file writes release the
    GIL, so an upload costs about the slower hash rather than the sum of all three.
    """

    def __init__(self, final: Path, temp: Path, size_cap: int) -> None:
        self.final = final
        self.temp = temp
        self.size_cap = size_cap
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._hash = hashlib.new(HASH_ALGO)
        self._file: BinaryIO | None = temp.open("xb")
        self._workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="image-upload")
        self._in_flight: list[Future[None]] = []

    def write(self, chunk: bytes | bytearray) -> None:
        """Queue a chunk (the caller must not change it afterwards). This waits for the
        previous chunk, whose write errors surface here or in :meth:`commit`."""
        if self._file is None:
            raise ValueError("the upload is already finished")
        self._wait()
        if self.size + len(chunk) > self.size_cap:
            raise SizeCapExceeded(f"Image data exceeds the size cap of {self.size_cap} bytes.")
        self.size += len(chunk)
        self._in_flight = [
            self._workers.submit(self._write, self._file, chunk),
            self._workers.submit(self._hash.update, chunk),
        ]

    def _write(self, file: BinaryIO, chunk: bytes | bytearray) -> None:
        self._md5.update(chunk)
        file.write(chunk)

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        for future in in_flight:
            try:
                future.result()
            except OSError as exc:
                raise _translated(exc) from exc

    def commit(self) -> StoredData:
        """Make the data durable and give it its final name."""
        if self._file is None:
            raise ValueError("the upload is already finished")
        self._wait()
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._close()
            os.replace(self.temp, self.final)
            _fsync_dir(self.final.parent)
        except OSError as exc:
            raise _translated(exc) from exc
        return StoredData(self.size, self._md5.hexdigest(), HASH_ALGO, self._hash.hexdigest())

    def abort(self) -> None:
        """Drop what was written (safe to call twice, or after a failed commit)."""
        with contextlib.suppress(Exception):
            self._wait()
        self._close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()

    def _close(self) -> None:
        self._workers.shutdown()
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


class FileStore:
    def __init__(self, root: Path, size_cap: int) -> None:
        self.root = root
        self.size_cap = size_cap
        self.temp_dir = root / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, image_id: str) -> Path:
        if not _SAFE_ID.match(image_id):
            raise ValueError(f"not an image id: {image_id!r}")
        return self.root / image_id

    def begin(self, image_id: str) -> Upload:
        """Start writing an image's data; nothing is visible until the upload commits."""
        final = self.path(image_id)
        temp = self.temp_dir / f"{image_id}.{os.urandom(6).hex()}.part"
        try:
            return Upload(final, temp, self.size_cap)
        except OSError as exc:
            raise _translated(exc) from exc

    def open(self, image_id: str) -> BinaryIO:
        """The image's data for reading; FileNotFoundError if it has none."""
        return self.path(image_id).open("rb")

    def delete(self, image_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(image_id).unlink()

    def sweep(self, older_than: float) -> int:
        """Remove temporary files untouched for ``older_than`` seconds: what a process
        that died mid-upload left behind. Returns how many were removed."""
        removed = 0
        deadline = time.time() - older_than
        for temp in self.temp_dir.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime < deadline:
                    temp.unlink()
                    removed += 1
        return removed


def _translated(exc: OSError) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull("The image store has no space left for this image.")
    return exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
