"""What every executor shares: the outcome of a task and the interface."""

from __future__ import annotations

import abc
import dataclasses
import importlib
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Literal

from tqdm.auto import tqdm

__all__ = ["Executor", "MissingExtra", "TaskFn", "TaskOutcome", "call_task", "import_extra",
           "progress_bar"]

TaskFn = Callable[[str], Any]  # picklable, module level: e.g. functools.partial(run_task, study)


class MissingExtra(RuntimeError):
    """An executor needs a package that is not installed; the message names the extra."""


def import_extra(module: str, extra: str, executor: str) -> Any:
    """``import module``, or raise :class:`MissingExtra` naming the pip extra that has it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtra(f"the {executor} executor needs {module} ({err}): "
                           f"pip install 'gan-benchmark[{extra}]'") from None


@dataclasses.dataclass(frozen=True)
class TaskOutcome:
    """How one task ended, as far as the executor saw.

    ``status``: ``ok`` (``value`` is what ``fn`` returned), ``failed`` (``error``: one line,
    ``detail``: the traceback or log tail) or ``submitted`` (handed to a scheduler without
    waiting; ``value`` is the scheduler's job id).
    """

    task_id: str
    status: Literal["ok", "failed", "submitted"]
    value: Any = None
    error: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_exception(cls, task_id: str, err: BaseException,
                       detail: str | None = None) -> TaskOutcome:
        if detail is None:
            detail = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        return cls(task_id, "failed", error=one_line(err), detail=detail)


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def call_task(fn: TaskFn, task_id: str) -> TaskOutcome:
    """``fn(task_id)`` with any ``Exception`` turned into a failed outcome."""
    try:
        return TaskOutcome(task_id, "ok", value=fn(task_id))
    except Exception as err:  # reported in the outcome
        return TaskOutcome.from_exception(task_id, err)


class Executor(abc.ABC):
    """Runs tasks by id; knows nothing of what a task does (the caller passes ``fn``)."""

    name: str = ""

    @abc.abstractmethod
    def run(self, tasks: Sequence[str], fn: TaskFn, *,
            progress: bool = True) -> dict[str, TaskOutcome]:
        """Run ``fn(task_id)`` for every task; one outcome per task, in the order given.

        ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one)
        and idempotent (a finished task is skipped, an interrupted one resumed), since
        executors may run a task again after its worker died. A task that raises is
        reported ``failed``; the other tasks still run.
        """


def progress_bar(total: int, enabled: bool, desc: str):
    """A tqdm bar over tasks, or None."""
    if not enabled:
        return None
    return tqdm(total=total, unit="task", desc=desc, dynamic_ncols=True)
