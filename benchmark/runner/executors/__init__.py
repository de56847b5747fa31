"""Executors: how the tasks of a study (each the runs trained together) are run.

Each one maps a task function over task ids and reports a :class:`TaskOutcome` per task::

    executor = make_executor("ray", address="auto", gpus_per_task=0.5)
    outcomes = executor.run(tasks, functools.partial(run_task, study_dir), progress=True)

``fn`` is any picklable callable of a task id (the executors never import the engine). An
executor whose package is missing raises :class:`MissingExtra` naming the pip extra when it
is made, before anything runs.
"""

from __future__ import annotations

from typing import Any

from benchmark.runner.executors.base import Executor, MissingExtra, TaskFn, TaskOutcome
from benchmark.runner.executors.local import LocalExecutor
from benchmark.runner.executors.ray_executor import RayExecutor
from benchmark.runner.executors.slurm import SlurmExecutor

__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "MissingExtra",
    "RayExecutor",
    "SlurmExecutor",
    "TaskFn",
    "TaskOutcome",
    "make_executor",
]

EXECUTORS: dict[str, type[Executor]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
    "slurm": SlurmExecutor,
}


def make_executor(name: str, **options: Any) -> Executor:
    """The executor ``name`` (a key of :data:`EXECUTORS`) made with ``options``."""
    try:
        cls = EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; choose one of "
                         f"{', '.join(EXECUTORS)}") from None
    return cls(**options)
