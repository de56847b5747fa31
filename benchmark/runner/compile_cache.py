"""The on-disk cache of compiled programs, shared by a study's processes and workers."""

from __future__ import annotations

from pathlib import Path

import jax


def enable_compilation_cache(directory: Path) -> None:
    """Keep compiled programs on disk, so a second study (or a resumed one) skips compiling.
    A directory the user chose (``JAX_COMPILATION_CACHE_DIR``, or jax's config) is kept."""
    if jax.config.jax_compilation_cache_dir:
        return
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
