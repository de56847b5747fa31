"""Functions run in child processes by the lease tests (a light module to import)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmark.runner import task_files
from benchmark.runner.leases import TaskLease, create_once


def race(study_dir: str, tasks: list[str], log: str, start_at: float) -> None:
    """Run every task that is neither leased nor done, like an idempotent ``run_task``."""
    time.sleep(max(0.0, start_at - time.time()))  # start together
    for task_id in tasks:
        lease = TaskLease.try_acquire(study_dir, task_id)
        if lease is None:
            continue
        with lease:
            if task_files.is_done(study_dir, task_id):
                continue
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, f"{task_id} {os.getpid()}\n".encode())
            finally:
                os.close(fd)
            time.sleep(0.1)
            task_files.mark_done(study_dir, task_id)


def hold_forever(study_dir: str, task_id: str, ready: str) -> None:
    """Lease ``task_id``, say so in ``ready``, then wait to be killed."""
    lease = TaskLease.try_acquire(study_dir, task_id)
    assert lease is not None
    Path(ready).write_text(str(os.getpid()))
    time.sleep(600)


def create(path: str, payload: bytes, start_at: float) -> bool:
    time.sleep(max(0.0, start_at - time.time()))
    return create_once(path, payload)
