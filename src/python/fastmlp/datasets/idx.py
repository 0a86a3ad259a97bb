"""Strict reader for the IDX binary format used by MNIST-style datasets.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), then one big-endian uint32 per dimension, then the data in
row-major order. Files may be gzip-compressed; compression is detected from
the content, not the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

__all__ = ["IDXFormatError", "read_idx"]


class IDXFormatError(ValueError):
    """An IDX file is malformed (bad magic, truncated, trailing bytes, corrupt gzip)."""


# Element types the IDX format defines; multi-byte types are big-endian on disk.
_DTYPE_BY_TYPE_CODE = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIMENSIONS = 4
# Deflate cannot do better than about 1032:1, so a header that claims more data
# than this ratio allows is corrupt; checking first avoids a huge allocation.
_MAX_GZIP_EXPANSION = 1100
_READ_CHUNK_BYTES = 1 << 20


def read_idx(filename: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a new numpy array.

    The result is C-contiguous, writable, in native byte order, and shaped as
    the header says. Raises ``IDXFormatError`` (message starts with the file
    path) for any malformed content; ``OSError`` if the file cannot be opened.
    """
    path = os.fspath(filename)
    with open(path, "rb") as raw_file:
        file_size = os.fstat(raw_file.fileno()).st_size
        is_gzip = raw_file.read(2) == _GZIP_MAGIC
        raw_file.seek(0)
        if not is_gzip:
            return _parse_idx_stream(raw_file, path, exact_file_size=file_size)
        try:
            with gzip.GzipFile(fileobj=raw_file, mode="rb") as stream:
                return _parse_idx_stream(stream, path, max_payload_bytes=file_size * _MAX_GZIP_EXPANSION)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise IDXFormatError(f"{path}: corrupt gzip stream ({error})") from error


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of stream (read() may return short)."""
    parts = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _parse_idx_stream(
    stream: BinaryIO,
    path: str,
    *,
    exact_file_size: int | None = None,
    max_payload_bytes: int | None = None,
) -> np.ndarray:
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        raise IDXFormatError(f"{path}: truncated header: {len(magic)} bytes, an IDX file needs at least 4")
    if magic[0] != 0 or magic[1] != 0:
        raise IDXFormatError(
            f"{path}: wrong magic number 0x{magic.hex()}: not an IDX file (IDX files start with two zero bytes)"
        )
    type_code, ndim = magic[2], magic[3]
    dtype = _DTYPE_BY_TYPE_CODE.get(type_code)
    if dtype is None:
        raise IDXFormatError(f"{path}: unknown IDX element type code 0x{type_code:02x}")
    if not 1 <= ndim <= _MAX_DIMENSIONS:
        raise IDXFormatError(f"{path}: header declares {ndim} dimensions, expected 1 to {_MAX_DIMENSIONS}")

    dims_bytes = _read_up_to(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise IDXFormatError(f"{path}: truncated header: {ndim} dimension sizes declared but the file ends early")
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    header_bytes = 4 + 4 * ndim
    payload_bytes = math.prod(shape) * dtype.itemsize
    shape_text = "x".join(map(str, shape))

    # For raw files the size is known up front, so length errors are reported
    # precisely and before allocating.
    if exact_file_size is not None:
        present = exact_file_size - header_bytes
        if present < payload_bytes:
            raise IDXFormatError(
                f"{path}: truncated data: header declares shape {shape_text} "
                f"({payload_bytes} bytes) but only {present} bytes follow the header"
            )
        if present > payload_bytes:
            raise IDXFormatError(
                f"{path}: {present - payload_bytes} trailing bytes after the "
                f"{payload_bytes} bytes of data declared by the header (shape {shape_text})"
            )
    if max_payload_bytes is not None and payload_bytes > max_payload_bytes:
        raise IDXFormatError(
            f"{path}: header declares shape {shape_text} ({payload_bytes} bytes), "
            "more than the compressed file can contain"
        )

    array = np.empty(shape, dtype=dtype)
    byte_view = array.reshape(-1).view(np.uint8)
    filled = 0
    while filled < payload_bytes:
        count = stream.readinto(byte_view[filled : filled + _READ_CHUNK_BYTES])
        if not count:
            break
        filled += count
    if filled < payload_bytes:
        raise IDXFormatError(
            f"{path}: truncated data: header declares shape {shape_text} "
            f"({payload_bytes} bytes) but only {filled} bytes follow the header"
        )
    # Reading past the end also makes gzip verify its CRC and length trailer.
    if stream.read(1):
        raise IDXFormatError(
            f"{path}: trailing bytes after the {payload_bytes} bytes of data "
            f"declared by the header (shape {shape_text})"
        )

    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("="))
    return array
