"""Files: the cache root and the one atomic write every result, cache and report goes through.

A reader sees the old file or the new one, never half of one: data go to a temporary file in
the same folder, are flushed and fsynced, and ``os.replace`` moves them into place. An
interrupted write leaves at most a hidden ``.<name>.*.tmp`` file, never a damaged target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from benchmark.errors import UserError

CACHE_ENV = "GAN_BENCHMARK_CACHE"


def cache_dir() -> Path:
    """The cache root: ``$GAN_BENCHMARK_CACHE`` if set, else ``~/.cache/gan_benchmark``;
    created if missing. A root that is a file, lies under a file, or cannot be created is a
    one-line UserError naming it and the variable that moves it."""
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "gan_benchmark"
    where = f"${CACHE_ENV}={root}" if root else "the default cache"
    if path.exists() and not path.is_dir():
        raise UserError(f"the cache folder {path} ({where}) is a file, not a folder; set "
                        f"${CACHE_ENV} to a folder (it is created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"the cache folder {path} ({where}) cannot be created "
                        f"({exc.strerror or exc}); set ${CACHE_ENV} to a writable folder"
                        ) from None
    return path  # a read-only root is fine for reading a prepared cache; writers say so


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` atomically when the block ends
    without an exception (and is discarded otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
