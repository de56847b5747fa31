"""The state of a study's tasks, from the files in its directory (no database, no server).

Per task (runs trained together) under ``study_dir/groups/<task_id>/``::

    rows.jsonl   its result rows (written atomically by the engine)
    DONE         written atomically after the last rows: the task is finished
    FAILED       the error of its last failed attempt (removed when it succeeds)

and its lease under ``study_dir/leases/`` (:mod:`benchmark.runner.leases`). :func:`task_states`
reads them: ``done`` (DONE exists), ``running`` (a live lease), ``failed`` (FAILED exists), else
``pending``. Every process that shares the directory sees the same states.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from benchmark.io import atomic_write
from benchmark.runner.leases import DEFAULT_TIMEOUT, live_lease

__all__ = [
    "DONE",
    "FAILED",
    "GROUPS",
    "TaskState",
    "clear_markers",
    "failure_message",
    "group_dir",
    "is_done",
    "is_failed",
    "mark_done",
    "mark_failed",
    "task_state",
    "task_states",
    "unfinished",
]

GROUPS = "groups"
DONE = "DONE"
FAILED = "FAILED"

TaskState = Literal["done", "running", "pending", "failed"]


def group_dir(study_dir: str | Path, task_id: str) -> Path:
    if not task_id or "/" in task_id or task_id.startswith("."):
        raise ValueError(f"not a valid task id for a directory name: {task_id!r}")
    return Path(study_dir) / GROUPS / task_id


def _stamp() -> dict:
    return {"time": time.time(), "host": socket.gethostname(), "pid": os.getpid()}


def mark_done(study_dir: str | Path, task_id: str) -> None:
    """Record that ``task_id`` finished (call after its last rows are written)."""
    gdir = group_dir(study_dir, task_id)
    atomic_write(gdir / DONE, (json.dumps(_stamp()) + "\n").encode())
    (gdir / FAILED).unlink(missing_ok=True)


def mark_failed(study_dir: str | Path, task_id: str, message: str) -> None:
    """Record that an attempt at ``task_id`` failed with ``message`` (e.g. a traceback)."""
    text = json.dumps({**_stamp(), "error": message}) + "\n"
    atomic_write(group_dir(study_dir, task_id) / FAILED, text.encode())


def clear_markers(study_dir: str | Path, task_id: str) -> None:
    """Forget that ``task_id`` finished or failed (to run it again)."""
    gdir = group_dir(study_dir, task_id)
    (gdir / DONE).unlink(missing_ok=True)
    (gdir / FAILED).unlink(missing_ok=True)


def is_done(study_dir: str | Path, task_id: str) -> bool:
    return (group_dir(study_dir, task_id) / DONE).exists()


def is_failed(study_dir: str | Path, task_id: str) -> bool:
    """Whether the last attempt failed (and none finished since)."""
    return (group_dir(study_dir, task_id) / FAILED).exists() and not is_done(study_dir, task_id)


def failure_message(study_dir: str | Path, task_id: str) -> str | None:
    """The error recorded by :func:`mark_failed`, or None."""
    try:
        text = (group_dir(study_dir, task_id) / FAILED).read_text()
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        return text


def task_state(study_dir: str | Path, task_id: str, *,
               lease_timeout: float = DEFAULT_TIMEOUT) -> TaskState:
    """``done``, ``running`` (a live lease), ``failed`` or ``pending``, in that precedence."""
    if is_done(study_dir, task_id):
        return "done"
    if live_lease(study_dir, task_id, timeout=lease_timeout) is not None:
        return "running"
    if (group_dir(study_dir, task_id) / FAILED).exists():
        return "failed"
    return "pending"


def task_states(study_dir: str | Path, tasks: Iterable[str], *,
                lease_timeout: float = DEFAULT_TIMEOUT) -> dict[str, TaskState]:
    """The state of every task, in the order given."""
    return {t: task_state(study_dir, t, lease_timeout=lease_timeout) for t in tasks}


def unfinished(study_dir: str | Path, tasks: Iterable[str]) -> list[str]:
    """The tasks without a DONE marker (what an executor still has to run), in order."""
    return [t for t in tasks if not is_done(study_dir, t)]
