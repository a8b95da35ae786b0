"""A server's disk, a qcow2 overlay on its cached image, written without forking qemu-img.

``create_overlay`` writes what ``qemu-img create -f qcow2 -F <format> -b <backing> <path>
<size>`` writes (qcow2 version 3, 64 KiB clusters, 16-bit refcounts, no lazy refcounts),
leaving out only the optional feature name table, which just names feature bits for error
messages. It runs on the boot path of every server, where the fork and exec of qemu-img
cost 12-25 ms; this costs well under one.

The backing file's format is always recorded (header extension 0xe2792aca), so that QEMU
never probes it: an image's data must not choose how it is read.

Layout, as qemu-img's: cluster 0 holds the header, its extensions and the backing file's
name; cluster 1 the refcount table; cluster 2 its one refcount block; then the L1 table,
all zero (no cluster is allocated yet: every read falls through to the backing file).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

CLUSTER_BITS = 16
CLUSTER_SIZE = 1 << CLUSTER_BITS
REFCOUNT_ORDER = 4  # 16-bit refcounts
# Guest bytes one L1 entry maps: an L2 table (a cluster of 8-byte entries) of clusters.
L1_ENTRY_SPAN = CLUSTER_SIZE * (CLUSTER_SIZE // 8)
# QEMU opens no image whose L1 table is over 32 MiB: 2 PiB with 64 KiB clusters.
MAX_SIZE = (32 * 1024**2 // 8) * L1_ENTRY_SPAN
MAX_BACKING_NAME = 1023  # bytes, the spec's limit
MAX_FORMAT_NAME = 15  # bytes, QEMU's limit

# magic, version, backing_file_offset, backing_file_size, cluster_bits, size, crypt_method,
# l1_size, l1_table_offset, refcount_table_offset, refcount_table_clusters, nb_snapshots,
# snapshots_offset, incompatible, compatible and autoclear features, refcount_order,
# header_length, compression_type and padding to a multiple of 8
_HEADER = struct.Struct(">4sIQIIQIIQQIIQQQQIIB7x")
_EXTENSION = struct.Struct(">II")  # type, length of the data (then padded to 8 bytes)
_BACKING_FORMAT_EXTENSION = 0xE2792ACA
_END_OF_EXTENSIONS = 0
_REFCOUNT_TABLE = CLUSTER_SIZE
_REFCOUNT_BLOCK = 2 * CLUSTER_SIZE
_L1_TABLE = 3 * CLUSTER_SIZE
_REFCOUNTS_PER_BLOCK = CLUSTER_SIZE * 8 >> REFCOUNT_ORDER


def create_overlay(path: Path, backing: Path, backing_format: str, size: int) -> None:
    """Write at ``path`` (created, or truncated) a qcow2 image of ``size`` bytes whose data
    is, until written, that of ``backing`` (an absolute path) read as ``backing_format``."""
    name = os.fsencode(backing)
    fmt = backing_format.encode()
    _check(backing, name, fmt, size)
    l1_size = -(-size // L1_ENTRY_SPAN)
    image = bytearray(_L1_TABLE + 8 * l1_size)
    _write_header_cluster(image, name, fmt, size, l1_size)
    struct.pack_into(">Q", image, _REFCOUNT_TABLE, _REFCOUNT_BLOCK)
    _write_refcounts(image, _L1_TABLE // CLUSTER_SIZE + -(-8 * l1_size // CLUSTER_SIZE))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    with open(fd, "wb") as file:
        file.write(image)


def _check(backing: Path, name: bytes, fmt: bytes, size: int) -> None:
    if size % 512 or not 0 <= size <= MAX_SIZE:
        raise ValueError(f"size {size} is not a multiple of 512 from 0 to {MAX_SIZE}")
    if not backing.is_absolute() or len(name) > MAX_BACKING_NAME:
        raise ValueError(f"backing file {backing} is not absolute or its name is too long")
    if not 0 < len(fmt) <= MAX_FORMAT_NAME:
        raise ValueError(f"backing format {fmt!r} is not 1 to {MAX_FORMAT_NAME} bytes")


def _write_header_cluster(
    image: bytearray, name: bytes, fmt: bytes, size: int, l1_size: int
) -> None:
    """The header, the backing format extension, the end of the extensions, then the
    backing file's name."""
    format_offset = _HEADER.size + _EXTENSION.size
    end_offset = format_offset + -(-len(fmt) // 8) * 8
    name_offset = end_offset + _EXTENSION.size
    _HEADER.pack_into(
        image,
        0,
        b"QFI\xfb",
        3,  # version
        name_offset,
        len(name),
        CLUSTER_BITS,
        size,
        0,  # no encryption
        l1_size,
        _L1_TABLE if l1_size else 0,
        _REFCOUNT_TABLE,
        1,  # refcount table clusters
        0,  # snapshots
        0,
        0,  # incompatible features
        0,  # compatible features
        0,  # autoclear features
        REFCOUNT_ORDER,
        _HEADER.size,
        0,  # compression type zlib
    )
    _EXTENSION.pack_into(image, _HEADER.size, _BACKING_FORMAT_EXTENSION, len(fmt))
    image[format_offset : format_offset + len(fmt)] = fmt
    _EXTENSION.pack_into(image, end_offset, _END_OF_EXTENSIONS, 0)
    image[name_offset : name_offset + len(name)] = name


def _write_refcounts(image: bytearray, clusters: int) -> None:
    """A refcount of 1 for each of the image's first ``clusters`` clusters."""
    assert clusters <= _REFCOUNTS_PER_BLOCK  # at most 3 + 512 below MAX_SIZE
    image[_REFCOUNT_BLOCK : _REFCOUNT_BLOCK + 2 * clusters] = b"\x00\x01" * clusters
