"""The qcow2 overlays the libvirt driver writes itself, held to what the real qemu-img
makes and reads: a consistent image, reading as its backing file, writable, and laid out
as ``qemu-img create`` lays out the same overlay."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stratus.compute.virt.libvirt.qcow2 import CLUSTER_SIZE, MAX_SIZE, create_overlay

MIB = 1024**2
GIB = 1024**3
SIZES = [64 * MIB, GIB, GIB + 512, 20 * GIB, 1024 * GIB]
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-img") is None or shutil.which("qemu-io") is None,
    reason="needs qemu-img and qemu-io",
)
pytestmark = needs_qemu

# The header fields up to header_length, as the spec lays them out (version 3).
HEADER_FIELDS = [
    ("magic", "4s"),
    ("version", "I"),
    ("backing_file_offset", "Q"),
    ("backing_file_size", "I"),
    ("cluster_bits", "I"),
    ("size", "Q"),
    ("crypt_method", "I"),
    ("l1_size", "I"),
    ("l1_table_offset", "Q"),
    ("refcount_table_offset", "Q"),
    ("refcount_table_clusters", "I"),
    ("nb_snapshots", "I"),
    ("snapshots_offset", "Q"),
    ("incompatible_features", "Q"),
    ("compatible_features", "Q"),
    ("autoclear_features", "Q"),
    ("refcount_order", "I"),
    ("header_length", "I"),
]
HEADER = struct.Struct(">" + "".join(code for _, code in HEADER_FIELDS))
FEATURE_NAME_TABLE = 0x6803F857


def run(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args}: {proc.stderr or proc.stdout}"
    return proc.stdout


def header(image: bytes) -> dict[str, Any]:
    return dict(zip([name for name, _ in HEADER_FIELDS], HEADER.unpack_from(image), strict=True))


def extensions(image: bytes) -> dict[int, bytes]:
    """The header extensions, by type, up to the end-of-extensions marker."""
    found = {}
    offset = header(image)["header_length"]
    while True:
        kind, length = struct.unpack_from(">II", image, offset)
        if kind == 0:
            return found
        found[kind] = image[offset + 8 : offset + 8 + length]
        offset += 8 + -(-length // 8) * 8


def backing_name(image: bytes) -> bytes:
    fields = header(image)
    offset = fields["backing_file_offset"]
    return image[offset : offset + fields["backing_file_size"]]


def check(path: Path) -> None:
    result = json.loads(run("qemu-img", "check", "--output=json", "-f", "qcow2", str(path)))
    assert result["check-errors"] == 0
    assert result.get("corruptions", 0) == 0
    assert result.get("leaks", 0) == 0


def info(path: Path) -> dict[str, Any]:
    return json.loads(run("qemu-img", "info", "--output=json", "-f", "qcow2", str(path)))


@pytest.fixture
def raw_backing(tmp_path: Path) -> Path:
    path = tmp_path / "base.raw"
    path.write_bytes(os.urandom(4 * MIB))
    return path


@pytest.fixture
def qcow2_backing(tmp_path: Path) -> Path:
    path = tmp_path / "base.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(path), str(4 * MIB))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 64k 1M", str(path))
    return path


@pytest.mark.parametrize("size", [*SIZES, 0, MAX_SIZE])
def test_qemu_img_finds_it_consistent(tmp_path: Path, raw_backing: Path, size: int) -> None:
    overlay = tmp_path / "disk"
    create_overlay(overlay, raw_backing, "raw", size)
    check(overlay)


@pytest.mark.parametrize(("fmt", "backing"), [("raw", "raw_backing"), ("qcow2", "qcow2_backing")])
@pytest.mark.parametrize("size", SIZES)
def test_qemu_img_reads_its_header(
    tmp_path: Path, fmt: str, backing: str, size: int, request: pytest.FixtureRequest
) -> None:
    base = request.getfixturevalue(backing)
    overlay = tmp_path / "disk"
    create_overlay(overlay, base, fmt, size)
    described = info(overlay)
    assert described["format"] == "qcow2"
    assert described["virtual-size"] == size
    assert described["cluster-size"] == CLUSTER_SIZE
    assert described["backing-filename"] == str(base)
    assert described["backing-filename-format"] == fmt
    data = described["format-specific"]["data"]
    assert data["compat"] == "1.1"
    assert data["refcount-bits"] == 16
    assert data["lazy-refcounts"] is False
    assert described["dirty-flag"] is False


@pytest.mark.parametrize(("fmt", "backing"), [("raw", "raw_backing"), ("qcow2", "qcow2_backing")])
def test_reads_as_its_backing_file(
    tmp_path: Path, fmt: str, backing: str, request: pytest.FixtureRequest
) -> None:
    base = request.getfixturevalue(backing)
    overlay = tmp_path / "disk"
    create_overlay(overlay, base, fmt, 4 * MIB)
    run("qemu-img", "compare", "-s", "-f", "qcow2", "-F", fmt, str(overlay), str(base))


def test_writes_go_to_the_overlay(tmp_path: Path, raw_backing: Path) -> None:
    overlay = tmp_path / "disk"
    create_overlay(overlay, raw_backing, "raw", 8 * MIB)  # larger than its backing file
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 64k 64k", str(overlay))
    check(overlay)
    flat = tmp_path / "flat.raw"
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(overlay), str(flat))
    data = raw_backing.read_bytes()
    expected = data[: 64 * 1024] + b"\xab" * 64 * 1024 + data[128 * 1024 :]
    assert flat.read_bytes() == expected + bytes(4 * MIB)
    assert raw_backing.read_bytes() == data


@pytest.mark.parametrize("fmt", ["raw", "qcow2", "vmdk"])
@pytest.mark.parametrize("size", [*SIZES, 0, 512, 100 * 1024 * GIB, MAX_SIZE])
def test_laid_out_as_qemu_img_lays_it_out(tmp_path: Path, fmt: str, size: int) -> None:
    # qemu-img also writes the optional feature name table extension, which create_overlay
    # leaves out: the header cluster is compared field by field, and so the backing file's
    # name is further up in it; every later cluster is compared byte for byte.
    base = tmp_path / "base"
    run("qemu-img", "create", "-q", "-f", fmt, str(base), str(MIB))  # qemu-img opens it
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    create_overlay(ours, base, fmt, size)
    run(
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        fmt,
        "-b",
        str(base),
        str(theirs),
        str(size),
    )
    mine, reference = ours.read_bytes(), theirs.read_bytes()
    assert len(mine) == len(reference)
    assert mine[CLUSTER_SIZE:] == reference[CLUSTER_SIZE:]
    fields, expected = header(mine), header(reference)
    assert fields.pop("backing_file_offset") < expected.pop("backing_file_offset")
    assert fields == expected
    assert mine[104:112] == reference[104:112] == bytes(8)  # compression type zlib, padding
    theirs_extensions = extensions(reference)
    assert FEATURE_NAME_TABLE in theirs_extensions
    del theirs_extensions[FEATURE_NAME_TABLE]
    assert extensions(mine) == theirs_extensions == {0xE2792ACA: fmt.encode()}
    assert backing_name(mine) == backing_name(reference) == os.fsencode(base)


def test_header_values(tmp_path: Path) -> None:
    # Independent of qemu-img's own choices: the values the brief asks for, for 1 TiB.
    overlay = tmp_path / "disk"
    create_overlay(overlay, Path("/images/base"), "raw", 1024 * GIB)
    image = overlay.read_bytes()
    fields = header(image)
    assert fields["magic"] == b"QFI\xfb"
    assert fields["version"] == 3
    assert fields["cluster_bits"] == 16
    assert fields["l1_size"] == 2048  # one entry per 512 MiB
    assert fields["refcount_table_offset"] == CLUSTER_SIZE
    assert fields["l1_table_offset"] == 3 * CLUSTER_SIZE
    assert fields["refcount_order"] == 4
    assert fields["header_length"] == 112
    assert len(image) == 3 * CLUSTER_SIZE + 2048 * 8
    assert backing_name(image) == b"/images/base"
    refcounts = image[2 * CLUSTER_SIZE : 3 * CLUSTER_SIZE]
    assert refcounts == b"\x00\x01" * 4 + bytes(CLUSTER_SIZE - 8)


def test_replaces_a_file_already_there(tmp_path: Path, raw_backing: Path) -> None:
    overlay = tmp_path / "disk"
    overlay.write_bytes(b"\xff" * 8 * MIB)
    create_overlay(overlay, raw_backing, "raw", 64 * MIB)
    assert overlay.stat().st_size == 3 * CLUSTER_SIZE + 8
    check(overlay)


@pytest.mark.parametrize("size", [GIB + 1, GIB - 256, -512, MAX_SIZE + 512])
def test_refuses_a_size_qcow2_cannot_have(tmp_path: Path, raw_backing: Path, size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        create_overlay(tmp_path / "disk", raw_backing, "raw", size)
    assert not (tmp_path / "disk").exists()


@pytest.mark.parametrize(
    ("backing", "fmt"),
    [
        (Path("base.raw"), "raw"),  # QEMU would look for it beside the overlay
        (Path("/" + "b" * 1023), "raw"),  # a name longer than 1023 bytes
        (Path("/base"), ""),
        (Path("/base"), "f" * 16),  # longer than QEMU reads
    ],
)
def test_refuses_a_backing_file_qemu_cannot_open(tmp_path: Path, backing: Path, fmt: str) -> None:
    with pytest.raises(ValueError):
        create_overlay(tmp_path / "disk", backing, fmt, GIB)
    assert not (tmp_path / "disk").exists()
