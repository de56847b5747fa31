"""Where the project keeps caches (prepared data sets, weights, compiled programs)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root: ``$GAN_BENCHMARK_CACHE`` if set, else ``~/.cache/gan_benchmark``."""
    root = os.environ.get("GAN_BENCHMARK_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "gan_benchmark"
    path.mkdir(parents=True, exist_ok=True)
    return path
