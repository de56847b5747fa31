"""Host allocator settings for XLA's CPU backend; applied by ``python -m benchmark`` before
anything else is imported (see :func:`keep_freed_memory`).

XLA's CPU runtime mallocs one large temporary buffer per execution and frees it when the
execution ends. glibc serves a block that large with a fresh ``mmap`` and returns it with
``munmap``, so every step page-faults the whole buffer in again, a large part of a step's time.
Telling glibc to keep freed memory (no ``mmap`` for large blocks, no trimming, one arena so
that XLA's worker threads allocate from the same heap) lets the next step reuse the same pages:
no faults per step, a faster step (measured: docs/speed.md). The cost: the process keeps its
peak heap instead of returning freed memory to the system.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8

# Any of these means the user chose the allocator's behaviour; leave it alone.
_USER_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_",
                  "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "LD_PRELOAD")


def _cpu_only() -> bool:
    """Whether JAX will run on the CPU: JAX_PLATFORMS says so, or no accelerator plugin is
    installed (an accelerator backend does not allocate its buffers with malloc)."""
    platforms = os.environ.get("JAX_PLATFORMS", "").strip()
    if platforms:
        return platforms.split(",")[0].strip() == "cpu"
    return all(importlib.util.find_spec(m) is None for m in ("jax_plugins", "libtpu"))


def keep_freed_memory() -> bool:
    """Configure glibc's malloc to reuse freed memory (module docstring); True if applied.

    Only on Linux with glibc, only when JAX will use the CPU, and only when the user has not
    set the allocator up themselves (GLIBC_TUNABLES, MALLOC_*_, LD_PRELOAD) or opted out with
    ``BENCHMARK_MALLOC=default``. It must run before JAX starts its threads: a thread that
    already has its own malloc arena keeps it and still maps its large blocks afresh.
    """
    if not sys.platform.startswith("linux") or os.environ.get("BENCHMARK_MALLOC") == "default":
        return False
    if any(name in os.environ for name in _USER_SETTINGS) or not _cpu_only():
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))
    return all(mallopt(param, value) == 1 for param, value in settings)
