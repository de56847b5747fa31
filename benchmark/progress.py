"""The study's progress bar: training and evaluation in one unit, the run-step.

Training advances the bar by run-steps (steps x runs). An evaluation counts as the run-steps
it takes in time: each run's evaluation of one kind (the metrics due then, e.g. P/R/F1 at the
last evaluation only) weighs ``seconds per run of that kind / seconds per training run-step``,
from a prior (:func:`prior_eval_seconds`, a CPU guess) until this study has measured both.
After every event the bar's total is the work done plus the remaining work at the current
weights, so the ETA includes the evaluations still to come and the bar reaches 100% when the
last evaluation (and its checkpoint) is done, not before.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from benchmark import data as datasets
from benchmark.evaluation import due_metrics
from benchmark.tasks import Group
from sweeps.profiles import Profile

PRIOR_STEP_SECONDS = 0.16  # one full-width 28x28 run-step on 2 CPU cores (README, Speed)
BASE_EVAL_SECONDS = 0.5  # sample grid, losses, rows and checkpoint of one run


def prior_eval_seconds(kind: tuple[str, ...], profile: Profile) -> float:
    """A guess of one run's evaluation seconds (2 CPU cores, README "Speed") before any is
    measured: P/R/F1 3.5 s + 21 ms per sample (x4 with the thorough inversion), FID 0.1 s
    per sample (Inception at 10 images/s), any other metric 5 s."""
    seconds = BASE_EVAL_SECONDS
    for name in kind:
        if name == "precision_recall":
            seconds += (3.5 + 0.021 * profile.prf_samples) * (4 if profile.thorough_inversion
                                                              else 1)
        elif name == "fid":
            seconds += 0.1 * profile.fid_samples
        else:
            seconds += 5.0
    return seconds


@dataclasses.dataclass
class GroupWork:
    """What one group still has to do: its runs' training steps and evaluations."""

    group_id: str
    runs: int
    total: int  # training steps per run
    evals: list[int]  # evaluation steps
    kinds: list[tuple[str, ...]]  # the metrics due at each evaluation
    trained: int = 0  # run-steps done
    evaluated: int = 0  # evaluations done


def study_work(groups: Sequence[Group], profile: Profile) -> list[GroupWork]:
    """Every group's schedule and the metrics due at each of its evaluations."""
    work = []
    for g in groups:
        spec = datasets.get(g.dataset)
        total, evals = profile.schedule(spec.train_steps, spec.eval_every)
        kinds = [tuple(m.name for m in due_metrics(spec, profile, last=e == total))
                 for e in evals]
        work.append(GroupWork(g.group_id, len(g.runs), total, evals, kinds))
    return work


class StudyProgress:
    """One bar over a study's training and evaluation (see module doc).

    The engine calls :meth:`start` before each group, :meth:`trained` after each compiled
    segment, :meth:`evaluated` after each evaluation (rows and checkpoint written),
    :meth:`skipped` for work a resumed group did earlier and :meth:`skip_rest` for a group
    finished earlier or by another process. ``enabled=False``
    keeps the bookkeeping without drawing.
    """

    def __init__(self, work: Sequence[GroupWork], profile: Profile, enabled: bool = True):
        self.work = {w.group_id: w for w in work}
        self.profile = profile
        self.done = 0.0  # units (run-step equivalents) done
        self.current: GroupWork | None = None
        self._train_seconds = 0.0
        self._train_steps = 0
        self._eval_seconds: dict[tuple[str, ...], float] = {}  # latest, per run
        self._clock = time.perf_counter()
        self._bar = None
        if enabled:
            self._bar = tqdm(total=max(1, round(self.remaining())), unit="run-step",
                             dynamic_ncols=True, smoothing=0.05)

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

    def start(self, group_id: str) -> None:
        self.current = self.work[group_id]
        self._clock = time.perf_counter()
        if self._bar is not None:
            self._bar.set_postfix_str(group_id, refresh=True)

    def _elapsed(self) -> float:
        now = time.perf_counter()
        seconds, self._clock = now - self._clock, now
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
        """Work done by an earlier call (a resumed or finished group): counted, not timed."""
        w = self.current
        units = run_steps + sum(w.runs * self.eval_weight(k)
                                for k in w.kinds[w.evaluated:w.evaluated + evaluations])
        w.trained += run_steps
        w.evaluated += evaluations
        self._elapsed()
        self._advance(units)

    def skip_rest(self) -> None:
        """The current group was finished by an earlier call or another process."""
        w = self.current
        self.skipped(w.runs * w.total - w.trained, len(w.evals) - w.evaluated)

    def _advance(self, units: float) -> None:
        self.done += units
        if self._bar is None:
            return
        total = round(self.done + self.remaining())
        if not self.finished:  # never 100% while anything is left, however cheap
            total = max(total, round(self.done) + 1)
        self._bar.total = max(1, total)
        self._bar.update(round(self.done) - self._bar.n)

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
