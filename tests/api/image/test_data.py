"""Uploading and downloading image data: streaming, hashes, ranges, and uploads that
fail part way (which must leave the image queued and no file behind)."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from stratus.image.api import data
from stratus.image.store import Upload

if TYPE_CHECKING:
    from conftest import Env

FORMATS = {"disk_format": "raw", "container_format": "bare"}
MiB = 1024 * 1024


@pytest.fixture
def image(env: Env) -> dict[str, Any]:
    return env.create(name="data", **FORMATS)


def stored_files(env: Env) -> list[str]:
    """Every file in the store, temporary ones included."""
    root = env.backend.store.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_requeued(env: Env, image: dict[str, Any]) -> None:
    shown = env.show(image["id"])
    assert shown["status"] == "queued" and shown["size"] is None and shown["checksum"] is None
    assert stored_files(env) == []


def test_upload_and_download(env: Env, image: dict[str, Any]) -> None:
    payload = os.urandom(3 * MiB + 17)
    assert env.upload(image["id"], payload).status_code == 204
    shown = env.show(image["id"])
    assert shown["status"] == "active" and shown["size"] == len(payload)
    assert shown["checksum"] == hashlib.md5(payload).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    response = env.call("GET", f"/v2/images/{image['id']}/file")
    assert response.status_code == 200 and response.content == payload
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(payload))
    assert response.headers["content-md5"] == shown["checksum"]
    assert stored_files(env) == [image["id"]]


def test_empty_upload_makes_an_empty_active_image(env: Env, image: dict[str, Any]) -> None:
    assert env.upload(image["id"], b"").status_code == 204
    assert env.show(image["id"])["size"] == 0
    response = env.call("GET", f"/v2/images/{image['id']}/file")
    assert response.status_code == 200 and response.content == b""


def test_no_data_yet_is_204(env: Env, image: dict[str, Any]) -> None:
    response = env.call("GET", f"/v2/images/{image['id']}/file")
    assert response.status_code == 204 and response.content == b""


def test_second_upload_conflicts(env: Env, image: dict[str, Any]) -> None:
    env.upload(image["id"], b"first")
    response = env.upload(image["id"], b"second")
    assert response.status_code == 409 and "active" in response.json()["error"]["message"]
    assert env.call("GET", f"/v2/images/{image['id']}/file").content == b"first"


def test_upload_needs_octet_stream(env: Env, image: dict[str, Any]) -> None:
    for content_type in ("application/json", "text/plain"):
        response = env.upload(image["id"], b"x", **{"Content-Type": content_type})
        assert response.status_code == 415
    assert env.show(image["id"])["status"] == "queued"


def test_upload_needs_formats(env: Env) -> None:
    image = env.create(disk_format="raw")
    response = env.upload(image["id"], b"x")
    assert response.status_code == 400 and "container_format" in response.json()["error"]["message"]


def test_bad_size_header_is_400(env: Env, image: dict[str, Any]) -> None:
    response = env.upload(image["id"], b"x", **{"X-OpenStack-Image-Size": "lots"})
    assert response.status_code == 400
    assert env.show(image["id"])["status"] == "queued"


def test_who_may_upload(env: Env, image: dict[str, Any]) -> None:
    assert env.upload(image["id"], b"x", "other").status_code == 404
    assert env.upload(image["id"], b"x", "reader").status_code == 403
    assert env.upload(image["id"], b"x", "admin").status_code == 204


def test_announced_size_over_the_cap_is_refused_before_reading(
    env: Env, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env.backend.store, "size_cap", 1000)
    response = env.upload(image["id"], b"x" * 1001)
    assert response.status_code == 413 and "1000" in response.json()["error"]["message"]
    assert_requeued(env, image)


def test_stream_over_the_cap_is_stopped_and_dropped(
    env: Env, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env.backend.store, "size_cap", 5 * MiB)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap is found while writing
        for _ in range(7):
            yield b"x" * MiB

    assert env.upload(image["id"], chunks()).status_code == 413
    assert_requeued(env, image)
    assert env.upload(image["id"], b"small").status_code == 204


@pytest.mark.parametrize(("code", "status"), [(errno.EIO, 503), (errno.ENOSPC, 413)])
def test_disk_errors_leave_the_image_queued(
    env: Env, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch, code: int, status: int
) -> None:
    def failing(self: Upload, file: Any, chunk: bytes) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Upload, "_write", failing)
    response = env.upload(image["id"], os.urandom(9 * MiB))
    assert response.status_code == status
    assert response.json()["error"]["message"]
    assert_requeued(env, image)


def test_missing_data_file_is_reported(env: Env, image: dict[str, Any]) -> None:
    env.upload(image["id"], b"data")
    env.backend.store.path(image["id"]).unlink()
    response = env.call("GET", f"/v2/images/{image['id']}/file")
    assert response.status_code == 404 and "missing" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
        ("bytes=7-", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
        ("bytes=-4", 206, b"6789", "bytes 6-9/10"),
        ("bytes=-40", 206, b"0123456789", "bytes 0-9/10"),
        ("bytes=10-", 416, None, "bytes */10"),
        ("bytes=-0", 416, None, "bytes */10"),
        ("bytes=0-1,4-5", 200, b"0123456789", None),
        ("bytes=5-2", 200, b"0123456789", None),
        ("lines=1-2", 200, b"0123456789", None),
        ("bytes=a-b", 200, b"0123456789", None),
    ],
)
def test_ranges(
    env: Env,
    image: dict[str, Any],
    header: str,
    status: int,
    body: bytes | None,
    content_range: str | None,
) -> None:
    env.upload(image["id"], b"0123456789")
    response = env.call("GET", f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert response.status_code == status
    if body is not None:
        assert response.content == body
    assert response.headers.get("content-range") == content_range


# Over a real socket: the body arrives as a stream, as it does from clients.


def test_upload_streams_in_bounded_chunks_and_memory(
    env: Env, served: str, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 64 * MiB
    writes: list[int] = []
    real_write = Upload.write

    def counting(self: Upload, chunk: bytes | bytearray) -> None:
        writes.append(len(chunk))
        real_write(self, chunk)

    monkeypatch.setattr(Upload, "write", counting)
    block = os.urandom(MiB)
    digest = hashlib.md5()

    def chunks() -> Iterator[bytes]:
        for _ in range(size // MiB):
            digest.update(block)
            yield block

    with RssWatch() as upload_rss, httpx.Client(base_url=served, timeout=120) as client:
        headers = {**env.users["demo"].headers, "Content-Type": "application/octet-stream"}
        response = client.put(f"/v2/images/{image['id']}/file", content=chunks(), headers=headers)
    assert response.status_code == 204, response.text
    assert env.show(image["id"])["checksum"] == digest.hexdigest()
    assert len(writes) >= size // (data.WRITE_CHUNK + MiB) and sum(writes) == size
    assert max(writes) < data.WRITE_CHUNK + MiB
    assert upload_rss.growth < 40 * MiB, upload_rss.growth

    received = hashlib.md5()
    with RssWatch() as download_rss, httpx.Client(base_url=served, timeout=120) as client:
        url = f"/v2/images/{image['id']}/file"
        with client.stream("GET", url, headers=env.users["demo"].headers) as response:
            assert response.headers["content-length"] == str(size)
            for piece in response.iter_bytes():
                received.update(piece)
    assert received.hexdigest() == digest.hexdigest()
    assert download_rss.growth < 40 * MiB, download_rss.growth


def test_image_deleted_during_upload(env: Env, served: str, image: dict[str, Any]) -> None:
    statuses = []

    def chunks() -> Iterator[bytes]:
        yield os.urandom(MiB)
        time.sleep(0.2)
        statuses.append(env.show(image["id"])["status"])
        assert env.call("DELETE", f"/v2/images/{image['id']}").status_code == 204
        for _ in range(8):
            yield os.urandom(MiB)

    headers = {**env.users["demo"].headers, "Content-Type": "application/octet-stream"}
    with httpx.Client(base_url=served, timeout=60) as client:
        response = client.put(f"/v2/images/{image['id']}/file", content=chunks(), headers=headers)
    assert statuses == ["saving"]
    assert response.status_code == 410 and "deleted" in response.json()["error"]["message"]
    assert env.call("GET", f"/v2/images/{image['id']}").status_code == 404
    assert stored_files(env) == []


def test_client_going_away_mid_upload(env: Env, served: str, image: dict[str, Any]) -> None:
    address = urlsplit(served)
    with socket.create_connection((address.hostname, address.port)) as sock:
        head = (
            f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\n"
            f"Host: {address.netloc}\r\n"
            f"X-Auth-Token: {env.users['demo'].token}\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Content-Length: {10 * MiB}\r\n\r\n"
        )
        sock.sendall(head.encode() + os.urandom(6 * MiB))
        wait_for(lambda: env.show(image["id"])["status"] == "saving")
    wait_for(lambda: env.show(image["id"])["status"] == "queued" and not stored_files(env))
    assert_requeued(env, image)
    assert env.upload(image["id"], b"complete").status_code == 204


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class RssWatch:
    """The most this process's resident memory grew while the block ran."""

    def __init__(self) -> None:
        self.growth = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        start = self.rss()
        while not self._stop.wait(0.005):
            self.growth = max(self.growth, self.rss() - start)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
