"""The IDX file format (MNIST, Fashion-MNIST): gzip or raw bytes, checked, parsed.

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order. Both data sets use
only unsigned bytes (type code 0x08).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from benchmark.errors import UserError

_UBYTE = 0x08


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    """A distribution file as published: its name and its decompressed size and sha256."""

    stem: str  # e.g. "train-images-idx3-ubyte"; on disk as stem + ".gz" or stem
    size: int
    sha256: str


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """The decompressed content of ``path`` (gzip when it ends in .gz); UserError if broken."""
    try:
        raw = Path(path).read_bytes()
        return gzip.decompress(raw) if str(path).endswith(".gz") else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(
            f"{path}: cannot be read or decompressed ({type(exc).__name__}: {exc}); "
            "the file is corrupted or truncated, download it again"
        ) from exc


def check_published(path: Path, data: bytes, expected: PublishedFile) -> None:
    """Raise a one-line UserError unless ``data`` is the published file (size, then sha256)."""
    if len(data) != expected.size:
        raise UserError(
            f"{path}: {len(data)} bytes after decompression, expected {expected.size} "
            f"(sha256 {expected.sha256}); the file is truncated or not the published one"
        )
    digest = sha256_hex(data)
    if digest != expected.sha256:
        raise UserError(
            f"{path}: sha256 of the decompressed bytes is {digest}, expected "
            f"{expected.sha256}; the file is corrupted, download it again"
        )


def parse(data: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """IDX bytes -> a uint8 array of the header's shape (a read-only view of ``data``)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _UBYTE:
        raise UserError(f"{path}: not an unsigned-byte IDX file (bad magic {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{path}: IDX header truncated ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) != header + count:
        raise UserError(
            f"{path}: IDX header promises {count} values of shape {shape}, "
            f"file holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read(path: Path, expected: PublishedFile | None = None) -> tuple[np.ndarray, str]:
    """Read, check against ``expected`` (when given) and parse one IDX file.

    Returns the array and the sha256 of the decompressed bytes (for the cache manifest).
    """
    data = read_bytes(path)
    if expected is not None:
        check_published(path, data, expected)
    return parse(data, path), sha256_hex(data)
