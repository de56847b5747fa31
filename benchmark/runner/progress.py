"""The study's progress bar: training and evaluation in one unit, the run-step.

Training advances the bar by run-steps (steps x runs). An evaluation counts as the run-steps
it takes in time: each run's evaluation of one kind (the metrics due then, e.g. P/R/F1 at the
last evaluation only) weighs ``seconds per run of that kind / seconds per training run-step``,
from a prior (:func:`prior_eval_seconds`, a CPU guess) until this study has measured both.
The drawn bar's total is estimated once, up front, from the study's schedule at the prior
weights, and never changes (a total that follows the measured weights jumped: 0/70, 2/9,
4/11, 20/20); its position is that total times the fraction done (work done over work done
plus remaining at the current weights), never moving back, so the ETA includes the
evaluations still to come and the bar reaches its total when the last evaluation (and its
checkpoint) is done, not before. A task of the sequence family (SeqGAN, MLE) counts its
SeqGAN schedule's steps, MLE epochs then adversarial batches, times its runs: it trains and
evaluates them in chunks, each reported as its steps (:func:`study_work`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from benchmark import data as datasets
from benchmark.evaluation.evaluator import due_metrics
from benchmark.runner import sequences
from benchmark.runner.tasks import Task
from metrics.registry import METRICS
from sweeps import config as configs
from sweeps.config import Config

PRIOR_STEP_SECONDS = 0.16  # one full-width 28x28 run-step on 2 CPU cores (docs/speed.md)
BASE_EVAL_SECONDS = 0.5  # sample grid, losses, rows and checkpoint of one run


def prior_eval_seconds(kind: tuple[str, ...], profile: Config) -> float:
    """A guess of one run's evaluation seconds (2 CPU cores, docs/speed.md) before any is
    measured: each metric's own guess under the profile's settings (``Metric.seconds``), 5 s
    for a metric no longer registered."""
    seconds = BASE_EVAL_SECONDS
    for name in kind:
        metric = METRICS.get(name)
        seconds += 5.0 if metric is None else metric.seconds(
            metric.configure(configs.metric_settings(profile, name)))
    return seconds


@dataclasses.dataclass
class TaskWork:
    """What one task still has to do: its runs' training steps and evaluations."""

    task_id: str
    runs: int
    total: int  # training steps per run
    evals: list[int]  # evaluation steps
    kinds: list[tuple[str, ...]]  # the metrics due at each evaluation
    trained: int = 0  # run-steps done
    evaluated: int = 0  # evaluations done


def study_work(tasks: Sequence[Task], profile: Config) -> list[TaskWork]:
    """Every task's schedule and the metrics due at each of its evaluations. A task of the
    sequence family counts its rows' steps, the MLE epochs then adversarial batches of the
    profile's SeqGAN schedule (``benchmark.runner.sequences.evaluation_steps``), and no
    separate evaluation: its evaluations run inside its compiled chunks, their time in its
    steps' (``sequences.train_task`` reports each chunk's steps as it ends)."""
    work = []
    for g in tasks:
        spec = datasets.get(g.dataset)
        if sequences.is_sequence(g.runs):
            total, _points = sequences.evaluation_steps(profile, g)
            work.append(TaskWork(g.task_id, len(g.runs), total, [], []))
            continue
        total, evals = configs.schedule(profile, spec.train_steps, spec.eval_every)
        kinds = [tuple(m.name for m in due_metrics(spec, profile, last=e == total))
                 for e in evals]
        work.append(TaskWork(g.task_id, len(g.runs), total, evals, kinds))
    return work


class StudyProgress:
    """One bar over a study's training and evaluation (see module doc).

    The engine calls :meth:`start` before each task, :meth:`trained` after each compiled
    segment, :meth:`evaluated` after each evaluation (rows and checkpoint written),
    :meth:`skipped` for work a resumed task did earlier and :meth:`skip_rest` for a task
    finished earlier or by another process. ``enabled=False``
    keeps the bookkeeping without drawing.
    """

    def __init__(self, work: Sequence[TaskWork], profile: Config, enabled: bool = True):
        self.work = {w.task_id: w for w in work}
        self.profile = profile
        self.done = 0.0  # units (run-step equivalents) done
        self.current: TaskWork | None = None
        self._train_seconds = 0.0
        self._train_steps = 0
        self._eval_seconds: dict[tuple[str, ...], float] = {}  # latest, per run
        self._clocks: dict[str, float] = {}  # per task: when its last event was heard
        self._bar = None
        self.total = max(1, round(self.remaining()))  # the drawn total, fixed (module doc)
        if enabled:
            self._bar = tqdm(total=self.total, unit="run-step", dynamic_ncols=True,
                             smoothing=0.05)

    # --- estimates ---------------------------------------------------------------------------

    def step_seconds(self) -> float:
        """Seconds per training run-step: measured when this study has trained, else the
        prior."""
        if self._train_steps and self._train_seconds > 0:
            return self._train_seconds / self._train_steps
        return PRIOR_STEP_SECONDS

    def eval_weight(self, kind: tuple[str, ...]) -> float:
        """One run's evaluation of ``kind`` in run-steps."""
        seconds = self._eval_seconds.get(kind)
        if seconds is None:
            seconds = prior_eval_seconds(kind, self.profile)
        return seconds / self.step_seconds()

    def remaining(self) -> float:
        """Run-step equivalents still to do, at the current weights."""
        left = 0.0
        for w in self.work.values():
            left += w.runs * w.total - w.trained
            left += sum(w.runs * self.eval_weight(k) for k in w.kinds[w.evaluated:])
        return left

    # --- events ------------------------------------------------------------------------------

    def start(self, task_id: str, at: float | None = None) -> None:
        """``task_id`` starts now (or at ``at``, a ``time.perf_counter`` reading)."""
        self.current = self.work[task_id]
        self._clocks[task_id] = time.perf_counter() if at is None else at
        if self._bar is not None:
            self._bar.set_postfix_str(task_id, refresh=True)

    def apply(self, task_id: str, event: str, args: tuple = ()) -> None:
        """An event of ``task_id`` heard from a worker process (``benchmark.runner.workers``):
        tasks of several workers advance at once, each timed by its own clock."""
        if event == "start":
            self.start(task_id, *args)
            return
        if event not in ("trained", "evaluated", "skipped", "skip_rest"):
            raise ValueError(f"unknown progress event {event!r}")
        self.current = self.work[task_id]
        getattr(self, event)(*args)

    def _elapsed(self) -> float:
        now = time.perf_counter()
        task = self.current.task_id
        seconds, self._clocks[task] = now - self._clocks.get(task, now), now
        return seconds

    def trained(self, run_steps: int) -> None:
        self._train_seconds += self._elapsed()
        self._train_steps += run_steps
        self.current.trained += run_steps
        self._advance(run_steps)

    def evaluated(self, step: int) -> None:
        w = self.current
        kind = w.kinds[w.evaluated]
        self._eval_seconds[kind] = self._elapsed() / w.runs
        weight = w.runs * self.eval_weight(kind)
        w.evaluated += 1
        self._advance(weight)

    def skipped(self, run_steps: int, evaluations: int) -> None:
        """Work done by an earlier call (a resumed or finished task): counted, not timed."""
        w = self.current
        units = run_steps + sum(w.runs * self.eval_weight(k)
                                for k in w.kinds[w.evaluated:w.evaluated + evaluations])
        w.trained += run_steps
        w.evaluated += evaluations
        self._elapsed()
        self._advance(units)

    def skip_rest(self) -> None:
        """The current task was finished by an earlier call or another process."""
        w = self.current
        self.skipped(w.runs * w.total - w.trained, len(w.evals) - w.evaluated)

    def position(self, previous: int = 0) -> int:
        """Where the drawn bar stands: ``total`` x :attr:`fraction`, never behind ``previous``
        and short of ``total`` until everything is done."""
        if self.finished:
            return self.total
        return min(max(previous, round(self.total * self.fraction)), self.total - 1)

    def _advance(self, units: float) -> None:
        self.done += units
        if self._bar is None:
            return
        self._bar.update(self.position(self._bar.n) - self._bar.n)

    @property
    def finished(self) -> bool:
        return all(w.trained >= w.runs * w.total and w.evaluated >= len(w.evals)
                   for w in self.work.values())

    @property
    def fraction(self) -> float:
        """Done / (done + remaining); 1.0 only when everything is done."""
        if self.finished:
            return 1.0
        return min(self.done / (self.done + self.remaining()), 1.0 - 1e-9)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
