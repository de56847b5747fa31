"""Run each task as a Ray task, on a Ray cluster or a local one started for the run.

``--executor ray [--ray-address ADDR] [--gpus-per-task F]``: every task asks for ``F`` GPUs
(a fraction such as 0.25 packs four tasks on a GPU; JAX is then told to preallocate only
``0.9 * F`` of its memory) and ``cpus_per_task`` CPUs. A task whose worker process dies
(killed, out of memory, node lost) is retried up to ``max_retries`` times; since tasks are
idempotent and resume from their checkpoints, a retry goes on where the attempt stopped. A
task that raises is not retried: it is reported failed.

Workers must be able to import this package and the task function (install the project on
every node, or pass ``runtime_env={"working_dir": ...}`` through ``init_kwargs``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from benchmark.runner.executors.base import (
    Executor,
    TaskFn,
    TaskOutcome,
    call_task,
    import_extra,
    progress_bar,
)
from benchmark.runner.leases import HOLDER_ENV

__all__ = ["RayExecutor", "jax_env_vars"]


def jax_env_vars(gpus_per_task: float) -> dict[str, str]:
    """Environment that keeps a JAX process within its share ``gpus_per_task`` of a GPU."""
    if 0 < gpus_per_task < 1:
        return {"XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 * gpus_per_task:.4g}"}
    return {}


def _run_in_worker(fn: TaskFn, task_id: str) -> TaskOutcome:
    """The Ray task: ``fn(task_id)``, its lease holder named after the Ray task id.

    A retry of a Ray task keeps its id, so a retry takes over the lease that its dead
    attempt left (on whatever node), instead of waiting for the lease timeout.
    """
    import ray

    before = os.environ.get(HOLDER_ENV)
    os.environ[HOLDER_ENV] = f"ray:{ray.get_runtime_context().get_task_id()}"
    try:
        return call_task(fn, task_id)
    finally:
        if before is None:
            os.environ.pop(HOLDER_ENV, None)
        else:
            os.environ[HOLDER_ENV] = before


class RayExecutor(Executor):
    """Each task a Ray task; a tqdm bar over tasks on the driver.

    ``address``: the cluster to join (``"auto"``, ``"ray://host:10001"``, ...); None starts
    a local cluster for the run (shut down after it). If Ray is already initialised in this
    process, that connection is used (and left open).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, gpus_per_task: float = 0.0,
                 cpus_per_task: float = 1.0, max_retries: int = 3,
                 env_vars: dict[str, str] | None = None,
                 init_kwargs: dict[str, Any] | None = None):
        self._ray = import_extra("ray", "ray", "ray")
        if gpus_per_task < 0 or (gpus_per_task > 1 and gpus_per_task != int(gpus_per_task)):
            raise ValueError(f"gpus_per_task must be a fraction of one GPU or a whole number, "
                             f"not {gpus_per_task}")
        self.address = address
        self.gpus_per_task, self.cpus_per_task = gpus_per_task, cpus_per_task
        self.max_retries = max_retries
        self.env_vars = {**jax_env_vars(gpus_per_task), **(env_vars or {})}
        self.init_kwargs = dict(init_kwargs or {})

    def remote_options(self) -> dict[str, Any]:
        """The options of every Ray task (see ``ray.remote``)."""
        options: dict[str, Any] = {
            "num_cpus": self.cpus_per_task,
            "num_gpus": self.gpus_per_task,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }
        if self.env_vars:
            options["runtime_env"] = {"env_vars": dict(self.env_vars)}
        return options

    def run(self, tasks: Sequence[str], fn: TaskFn, *,
            progress: bool = True) -> dict[str, TaskOutcome]:
        if len(set(tasks)) != len(tasks):
            raise ValueError("task ids must be unique")
        if not tasks:
            return {}
        ray = self._ray
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, **self.init_kwargs)
        try:
            return self._run(ray, tasks, fn, progress)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray, tasks: Sequence[str], fn: TaskFn,
             progress: bool) -> dict[str, TaskOutcome]:
        remote = ray.remote(_run_in_worker).options(**self.remote_options())
        fn_ref = ray.put(fn)
        task_of = {remote.remote(fn_ref, task_id): task_id for task_id in tasks}
        outcomes: dict[str, TaskOutcome] = {}
        bar = progress_bar(len(tasks), progress, "tasks")
        pending = list(task_of)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    task_id = task_of[ref]
                    try:
                        outcomes[task_id] = ray.get(ref)
                    except ray.exceptions.RayError as err:  # worker died past its retries, ...
                        outcomes[task_id] = TaskOutcome.from_exception(task_id, err,
                                                                       detail=str(err))
                    if bar is not None:
                        bar.set_postfix_str(task_id, refresh=False)
                        bar.update(1)
        except BaseException:  # e.g. Ctrl-C: stop what still runs
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        return {task_id: outcomes[task_id] for task_id in tasks}
