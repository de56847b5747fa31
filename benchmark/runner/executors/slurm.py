"""Run the tasks as one SLURM job array, through submitit.

``--executor slurm --slurm-partition P --slurm-gpus-per-task N --slurm-time T
--slurm-array-parallelism K``: one array job, one element per task given (pass only the
unfinished ones, :func:`benchmark.runner.task_files.unfinished`), at most ``K`` running at once;
submitit's pickles and the jobs' logs go under ``folder`` (``study_dir/slurm/``). A job
that is preempted or reaches its time limit is requeued by submitit (up to
``max_num_timeout`` time-outs) and resumes from its checkpoint, the task being idempotent.

``cluster="local"`` runs the same code path with submitit's local executor (one process per
task, no SLURM), for tests and single machines. With ``wait=False`` the array is submitted
and :meth:`SlurmExecutor.run` returns at once (outcomes ``submitted``); follow the jobs with
:func:`benchmark.runner.task_files.task_states` or ``squeue``.
"""

from __future__ import annotations

import re
import shlex
import sys
import time as _time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.runner.executors.base import (
    Executor,
    TaskFn,
    TaskOutcome,
    import_extra,
    progress_bar,
)

__all__ = ["SlurmExecutor", "slurm_minutes"]

_TIME = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def slurm_minutes(value: int | float | str) -> int:
    """A SLURM time limit in whole minutes (rounded up).

    Numbers are minutes; strings take SLURM's forms ``M``, ``M:S``, ``H:M:S``, ``D-H``,
    ``D-H:M``, ``D-H:M:S``.
    """
    if isinstance(value, (int, float)):
        minutes = float(value)
    else:
        match = _TIME.match(value.strip())
        if not match:
            raise ValueError(f"not a SLURM time: {value!r} (e.g. 90, 4:00:00 or 1-12:00:00)")
        d, a, b, c = (int(match[k]) if match[k] else None for k in "dabc")
        if d is not None:  # D-H[:M[:S]]
            seconds = d * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
        elif c is not None:  # H:M:S
            seconds = a * 3600 + b * 60 + c
        elif b is not None:  # M:S
            seconds = a * 60 + b
        else:  # M
            seconds = a * 60
        minutes = seconds / 60
    if minutes <= 0:
        raise ValueError(f"a time limit must be positive, not {value!r}")
    return int(-(-minutes // 1))


def _failure_line(text: str) -> str:
    """The last line of the traceback in a submitit failure message (the exception)."""
    if "with trace:" in text:
        trace = text.split("with trace:", 1)[1].split("\n----------------------", 2)
        lines = [line for line in (trace[1] if len(trace) > 1 else trace[0]).splitlines()
                 if line.strip() and not line.startswith("---")]
        if lines:
            return lines[-1].strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].strip() if lines else "failed"


class SlurmExecutor(Executor):
    """One submitit job array over the tasks; a tqdm bar while waiting for them."""

    name = "slurm"

    def __init__(self, folder: str | Path, *, partition: str | None = None,
                 gpus_per_task: int | None = None, time: int | str = "24:00:00",
                 array_parallelism: int | None = None, cpus_per_task: int | None = None,
                 mem_gb: float | None = None, account: str | None = None,
                 qos: str | None = None, constraint: str | None = None,
                 job_name: str = "gan-benchmark", setup: Sequence[str] = (),
                 additional_parameters: dict[str, Any] | None = None,
                 cluster: str = "slurm", wait: bool = True, poll_interval: float = 10.0,
                 max_num_timeout: int = 3):
        self._submitit = import_extra("submitit", "slurm", "slurm")
        if cluster not in ("slurm", "local", "debug"):
            raise ValueError(f"cluster must be slurm, local or debug, not {cluster!r}")
        if array_parallelism is not None and array_parallelism < 1:
            raise ValueError(f"array_parallelism must be at least 1, not {array_parallelism}")
        self.folder = Path(folder)
        self.minutes = slurm_minutes(time)
        self.job_name = job_name
        self.cluster, self.wait, self.poll_interval = cluster, wait, poll_interval
        self.max_num_timeout = max_num_timeout
        native: dict[str, Any] = {
            "partition": partition, "gpus_per_task": gpus_per_task,
            "array_parallelism": array_parallelism, "cpus_per_task": cpus_per_task,
            "mem": None if mem_gb is None else _mem(mem_gb), "account": account, "qos": qos,
            "constraint": constraint, "setup": list(setup) or None,
        }
        extra = dict(additional_parameters or {})
        if gpus_per_task:  # SLURM refuses --gpus-per-task without an explicit task count
            extra = {"ntasks": 1, **extra}
        native["additional_parameters"] = extra or None
        self.sbatch_parameters = {k: v for k, v in native.items() if v is not None}

    def _submitit_executor(self):
        kwargs = {"slurm_max_num_timeout": self.max_num_timeout} if self.cluster == "slurm" else {}
        executor = self._submitit.AutoExecutor(folder=self.folder, cluster=self.cluster, **kwargs)
        executor.update_parameters(
            timeout_min=self.minutes, name=self.job_name,
            **{f"slurm_{k}": v for k, v in self.sbatch_parameters.items()})
        return executor

    def sbatch_script(self, n_tasks: int) -> str:
        """The sbatch script of an array of ``n_tasks`` tasks (a dry run: nothing is submitted)."""
        from submitit.slurm.slurm import _make_sbatch_string

        command = " ".join([self._submitit_python(), "-u -m submitit.core._submit",
                            shlex.quote(str(self.folder))])
        return _make_sbatch_string(command=command, folder=self.folder, job_name=self.job_name,
                                   time=self.minutes, map_count=n_tasks,
                                   **self.sbatch_parameters)

    @staticmethod
    def _submitit_python() -> str:
        return shlex.quote(sys.executable)

    def run(self, tasks: Sequence[str], fn: TaskFn, *,
            progress: bool = True) -> dict[str, TaskOutcome]:
        if len(set(tasks)) != len(tasks):
            raise ValueError("task ids must be unique")
        if not tasks:
            return {}
        from benchmark.runner.executors._requeue import Requeueable

        self.folder.mkdir(parents=True, exist_ok=True)
        executor = self._submitit_executor()
        jobs = executor.map_array(Requeueable(fn), list(tasks))
        if not self.wait:
            return {t: TaskOutcome(t, "submitted", value=job.job_id)
                    for t, job in zip(tasks, jobs, strict=True)}
        return self._wait(list(zip(tasks, jobs, strict=True)), progress)

    def _wait(self, submitted: list[tuple[str, Any]], progress: bool) -> dict[str, TaskOutcome]:
        outcomes: dict[str, TaskOutcome] = {}
        bar = progress_bar(len(submitted), progress, f"tasks (job {submitted[0][1].job_id})")
        pending = list(submitted)
        try:
            while pending:
                still = []
                for task_id, job in pending:
                    if job.done():
                        outcomes[task_id] = self._outcome(task_id, job)
                        if bar is not None:
                            bar.update(1)
                    else:
                        still.append((task_id, job))
                pending = still
                if pending:
                    _time.sleep(self.poll_interval)
        finally:
            if bar is not None:
                bar.close()
        return {task_id: outcomes[task_id] for task_id, _ in submitted}

    @staticmethod
    def _outcome(task_id: str, job) -> TaskOutcome:
        try:
            return TaskOutcome(task_id, "ok", value=job.result())
        except Exception as err:  # submitit's FailedJobError / UncompletedJobError
            text = str(err)
            return TaskOutcome(task_id, "failed", value=job.job_id, error=_failure_line(text),
                               detail=text)


def _mem(gb: float) -> str:
    return f"{int(gb)}GB" if gb == int(gb) else f"{int(gb * 1024)}MB"
