import errno
import hashlib
import os
import time
from pathlib import Path

import pytest

from stratus.image.store import FileStore, SizeCapExceeded, StoreFull

IMAGE_ID = "0b7c4b3e-2c1d-4a53-9b8e-2f6f4c1d9e10"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "images", size_cap=1024 * 1024)


def leftovers(store: FileStore) -> list[str]:
    return sorted(p.name for p in store.temp_dir.iterdir())


def test_chunks_are_hashed_and_the_file_appears_only_on_commit(store: FileStore) -> None:
    chunks = [os.urandom(1000), os.urandom(5000), b"", os.urandom(7)]
    data = b"".join(chunks)
    upload = store.begin(IMAGE_ID)
    for chunk in chunks:
        upload.write(chunk)
        assert not store.path(IMAGE_ID).exists()
    assert leftovers(store) == [upload.temp.name]
    stored = upload.commit()
    assert stored.size == len(data)
    assert stored.checksum == hashlib.md5(data).hexdigest()
    assert (stored.hash_algo, stored.hash_value) == ("sha512", hashlib.sha512(data).hexdigest())
    assert store.path(IMAGE_ID).read_bytes() == data
    assert leftovers(store) == []


def test_commit_renames_atomically(store: FileStore, monkeypatch: pytest.MonkeyPatch) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src, dst):  # type: ignore[no-untyped-def]
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    with store.begin(IMAGE_ID) as upload:
        upload.write(b"abc")
        upload.commit()
    assert renames == [(upload.temp, store.path(IMAGE_ID))]
    assert upload.temp.parent == store.temp_dir and store.temp_dir.parent == store.root


def test_abort_leaves_nothing(store: FileStore) -> None:
    with store.begin(IMAGE_ID) as upload:
        upload.write(b"partial")
    assert leftovers(store) == [] and not store.path(IMAGE_ID).exists()
    upload.abort()  # twice is harmless


def test_size_cap_stops_the_write_before_it_happens(store: FileStore) -> None:
    with store.begin(IMAGE_ID) as upload:
        upload.write(b"x" * (1024 * 1024 - 1))
        with pytest.raises(SizeCapExceeded):
            upload.write(b"yy")
        assert upload.size == 1024 * 1024 - 1
    assert leftovers(store) == []


def test_a_full_disk_is_reported_and_cleaned_up(store: FileStore) -> None:
    class FullFile:
        def write(self, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            pass

    upload = store.begin(IMAGE_ID)
    upload._file.close()  # type: ignore[union-attr]
    upload._file = FullFile()  # type: ignore[assignment]
    with upload:
        upload.write(b"data")  # queued; its failure shows at the next step
        with pytest.raises(StoreFull):
            upload.write(b"more")
    assert leftovers(store) == [] and not store.path(IMAGE_ID).exists()
    with store.begin(IMAGE_ID) as second:
        second._file.close()  # type: ignore[union-attr]
        second._file = FullFile()  # type: ignore[assignment]
        second.write(b"data")
        with pytest.raises(StoreFull):
            second.commit()
    assert leftovers(store) == [] and not store.path(IMAGE_ID).exists()


def test_two_uploads_of_one_image_use_distinct_temp_files(store: FileStore) -> None:
    first, second = store.begin(IMAGE_ID), store.begin(IMAGE_ID)
    assert first.temp != second.temp
    first.abort()
    second.abort()


def test_open_and_delete(store: FileStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.open(IMAGE_ID)
    with store.begin(IMAGE_ID) as upload:
        upload.write(b"data")
        upload.commit()
    with store.open(IMAGE_ID) as handle:
        assert handle.read() == b"data"
    store.delete(IMAGE_ID)
    store.delete(IMAGE_ID)
    assert not store.path(IMAGE_ID).exists()


def test_ids_cannot_escape_the_store(store: FileStore) -> None:
    for bad in ("../etc/passwd", "a/b", "", "x" * 100):
        with pytest.raises(ValueError):
            store.path(bad)


def test_sweep_removes_only_stale_temp_files(store: FileStore) -> None:
    stale, fresh = store.begin(IMAGE_ID), store.begin(IMAGE_ID)
    old = time.time() - 7200
    os.utime(stale.temp, (old, old))
    assert store.sweep(older_than=3600) == 1
    assert leftovers(store) == [fresh.temp.name]
    stale.abort()
    fresh.abort()
