"""Run the tasks one after another in this process."""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.runner.executors.base import Executor, TaskFn, TaskOutcome, call_task, progress_bar

__all__ = ["LocalExecutor"]


class LocalExecutor(Executor):
    """A serial loop in this process, with a tqdm bar over tasks."""

    name = "local"

    def run(self, tasks: Sequence[str], fn: TaskFn, *,
            progress: bool = True) -> dict[str, TaskOutcome]:
        outcomes: dict[str, TaskOutcome] = {}
        bar = progress_bar(len(tasks), progress, "tasks")
        try:
            for task_id in tasks:
                if bar is not None:
                    bar.set_postfix_str(task_id, refresh=True)
                outcomes[task_id] = call_task(fn, task_id)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return outcomes
