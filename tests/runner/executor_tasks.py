"""Toy task functions for the executor tests (module level, so that they pickle)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from benchmark.runner.leases import default_holder


def square(task_id: str) -> int:
    """``t3`` -> 9; ``bad`` raises."""
    if task_id == "bad":
        raise ValueError(f"task {task_id} is broken")
    return int(task_id.lstrip("t")) ** 2


def count_attempt(folder: Path, task_id: str) -> int:
    """Count this attempt at ``task_id`` in a file; return the count so far."""
    path = Path(folder) / f"{task_id}.attempts"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, b".")
    finally:
        os.close(fd)
    return path.stat().st_size


def die_once(folder: str, task_id: str) -> dict:
    """``square``, but the worker of the first attempt at ``t1`` is killed (SIGKILL).

    Returns the result, the number of attempts, the lease holder name of this attempt and
    that of the killed attempt (written to the marker before dying).
    """
    attempts = count_attempt(Path(folder), task_id)
    marker = Path(folder) / f"{task_id}.killed"
    if task_id == "t1" and not marker.exists():
        marker.write_text(default_holder())
        os.kill(os.getpid(), signal.SIGKILL)
    return {"value": square(task_id), "attempts": attempts, "holder": default_holder(),
            "killed_holder": marker.read_text() if marker.exists() else None,
            "env": os.environ.get("TOY_ENV")}
