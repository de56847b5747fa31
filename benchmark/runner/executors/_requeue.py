"""A task callable that submitit requeues when its job is preempted or times out.

Imports submitit: only :mod:`benchmark.runner.executors.slurm` imports this module, once it checked
that submitit is installed.
"""

from __future__ import annotations

from typing import Any

from submitit.helpers import Checkpointable

from benchmark.runner.executors.base import TaskFn


class Requeueable(Checkpointable):
    """``fn(task_id)``; on preemption or time-out the same call is requeued as it is.

    The task resumes from its own checkpoint, so nothing but the call needs saving
    (submitit's default :meth:`checkpoint`). The job then exits with ``SystemExit``, which
    releases the task's lease.
    """

    def __init__(self, fn: TaskFn):
        self.fn = fn

    def __call__(self, task_id: str) -> Any:
        return self.fn(task_id)
