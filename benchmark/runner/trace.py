"""An opt-in log of the phases a task goes through, for the chaos script (``tools.chaos``).

The engine takes one optional callback, ``on_phase(name)``, and calls it as it enters each
phase; :func:`hook` gives it. When ``$GAN_BENCHMARK_TRACE`` names a file, :func:`phase`
appends one line per phase entered: ``<unix time> <pid> <task id> <phase>``, with phase one
of ``train``, ``evaluate``, ``rows``, ``checkpoint``, ``done`` (the DONE marker and the
clean-up). A process that is killed is therefore in the phase of its last line.
Unset (the default), :func:`phase` does nothing.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

ENV = "GAN_BENCHMARK_TRACE"
PHASES = ("train", "evaluate", "rows", "checkpoint", "done")


def phase(task_id: str, name: str) -> None:
    """Record that this process enters ``name`` of task ``task_id`` (if tracing)."""
    path = os.environ.get(ENV)
    if path:
        with open(path, "a") as f:  # one short write: lines of concurrent workers stay whole
            f.write(f"{time.time():.6f} {os.getpid()} {task_id} {name}\n")


def hook(task_id: str) -> Callable[[str], None] | None:
    """The engine's one trace point for ``task_id``: :func:`phase` bound to it while
    ``$GAN_BENCHMARK_TRACE`` is set (read when the task starts), else None."""
    return functools.partial(phase, task_id) if os.environ.get(ENV) else None


def read(path: str | os.PathLike) -> list[tuple[float, int, str, str]]:
    """The trace's entries, oldest first (a torn last line is skipped)."""
    entries = []
    try:
        text = open(path).read()
    except FileNotFoundError:
        return entries
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in PHASES:
            entries.append((float(parts[0]), int(parts[1]), parts[2], parts[3]))
    return entries
