"""Image upload and download of a 1 GiB image through the image API, against ``cp`` of
the same file on the same disk, in the same run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from common import admin_token, print_table, running_cloud

SIZE = 1024**3
CHUNK = 4 * 1024 * 1024


def make_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("wb") as handle:
        for _ in range(SIZE // CHUNK):
            chunk = os.urandom(CHUNK)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    with running_cloud() as cloud, tempfile.TemporaryDirectory(dir=cloud.root) as scratch:
        source, copy, back = (Path(scratch) / n for n in ("source", "copy", "back"))
        checksum = make_file(source)
        cp_seconds = timed(lambda: subprocess.run(["cp", source, copy], check=True))
        copy.unlink()

        token = admin_token(cloud)
        base = cloud.url("image")
        headers = {"X-Auth-Token": token}
        with httpx.Client(timeout=600, headers=headers) as client:
            image = client.post(
                f"{base}/v2/images",
                json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
            ).json()

            def upload() -> None:
                def chunks():  # type: ignore[no-untyped-def]
                    with source.open("rb") as handle:
                        while block := handle.read(CHUNK):
                            yield block

                client.put(
                    f"{base}/v2/images/{image['id']}/file",
                    content=chunks(),
                    headers={"Content-Type": "application/octet-stream"},
                ).raise_for_status()

            def download() -> None:
                with (
                    client.stream("GET", f"{base}/v2/images/{image['id']}/file") as response,
                    back.open("wb") as handle,
                ):
                    response.raise_for_status()
                    for block in response.iter_bytes(CHUNK):
                        handle.write(block)

            up_seconds = timed(upload)
            down_seconds = timed(download)
            stored = client.get(f"{base}/v2/images/{image['id']}").json()
            assert stored["checksum"] == checksum, "uploaded image checksum differs"
            client.delete(f"{base}/v2/images/{image['id']}")
        mib = SIZE / 1024**2
        print_table(
            "Image data, 1 GiB (all-in-one, local file store)",
            ["operation", "seconds", "MiB/s", "x cp time"],
            [
                ["cp (baseline)", cp_seconds, mib / cp_seconds, 1.0],
                ["upload (PUT file)", up_seconds, mib / up_seconds, up_seconds / cp_seconds],
                [
                    "download (GET file)",
                    down_seconds,
                    mib / down_seconds,
                    down_seconds / cp_seconds,
                ],
            ],
        )


if __name__ == "__main__":
    main()
