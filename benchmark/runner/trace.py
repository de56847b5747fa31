"""An opt-in log of the phases a task goes through, for the chaos script (``tools.chaos``).

When ``$GAN_BENCHMARK_TRACE`` names a file, :func:`phase` appends one line per phase entered:
``<unix time> <pid> <task id> <phase>``, with phase one of ``train``, ``evaluate``, ``rows``,
``checkpoint``, ``done`` (the DONE marker and the clean-up). A process that is killed is
therefore in the phase of its last line. Unset (the default), :func:`phase` does nothing.
"""

from __future__ import annotations

import os
import time

ENV = "GAN_BENCHMARK_TRACE"
PHASES = ("train", "evaluate", "rows", "checkpoint", "done")


def phase(task_id: str, name: str) -> None:
    """Record that this process enters ``name`` of task ``task_id`` (if tracing)."""
    path = os.environ.get(ENV)
    if path:
        with open(path, "a") as f:  # one short write: lines of concurrent workers stay whole
            f.write(f"{time.time():.6f} {os.getpid()} {task_id} {name}\n")


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
