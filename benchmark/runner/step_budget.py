"""A profile that fits a time budget: the preview sizes its steps to the machine it runs on
(docs/speed.md, "The preview's quarter hour").

Before training, every task of the study is compiled and timed for a few steps (the
compiled programs stay in the process, so only those few steps are extra work). From the
measured seconds per run-step of each task and a guess of the evaluations' time (the
progress bar's prior, :func:`benchmark.runner.progress.prior_eval_seconds`, scaled by how much
slower than the reference machine this one trains), :func:`choose_steps` picks the most steps
of the profile's ladder (its steps, then ``GRANULARITY`` fewer at a time, never below a
quarter) that fit the budget. The choice is a pure function of the measured rates: the same rates
give the same steps. So a preview's results depend on the machine's speed through the chosen
step count only, and that count is recorded: the study's profile is renamed
``preview[steps=N]`` when N is below the profile's steps (every row's ``profile`` column, the
manifest) and the command prints the measured rates; nothing else is written. A rerun of the
same command reuses the recorded choice (it resumes the same study); ``--steps`` turns the
budget off, and so does an executor (Ray, SLURM: the workers are other machines).

With worker processes (``execution.workers``; the preview's: one per CPU core,
``benchmark.runner.workers``) each task is timed as a worker will train it: the tasks are
dealt to as many new processes as there will be workers, each pinned to its worker's cores,
all measuring at once (the measurement is mostly compilation, which then runs on every core),
and the projection deals the tasks to the workers as they will take them (:func:`makespan`).
The measuring processes compile each task's programs into the compilation cache, from which
the workers load them: on a 2-core machine a worker's first task took about 3 s more than its
steps and evaluations (docs/speed.md).

On a machine too slow for the profile's steps in its budget the ladder goes down to a quarter
of them, and the command says what that costs (fewer models cross delta at fewer steps) and
how long the full steps would take there; where even a quarter does not fit, it says so with
the projected time.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import pickle
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmark import data as datasets
from benchmark.runner import sequences, workers
from benchmark.runner.progress import PRIOR_STEP_SECONDS, prior_eval_seconds, study_work
from benchmark.runner.results import MANIFEST
from benchmark.runner.tasks import Task, make_tasks
from benchmark.training import Structure, Trainer, default_plan, init_runs
from sweeps import config as configs
from sweeps.config import Config
from sweeps.runs import Study

# Seconds from the start of the measurement to the last evaluation, per profile; the rest of
# the quarter hour is start-up, data, the report and the margin (docs/speed.md).
BUDGETS: dict[str, float] = {"preview": 780.0}
GRANULARITY = 25  # steps are chosen in multiples of this
PROBE_STEPS = 3  # timed steps per task, after the first (compiling) one
OVERHEAD_S = 20.0  # evaluation programs' first compilations, rows, checkpoints' first save


@dataclasses.dataclass(frozen=True)
class Probe:
    """One task's measurement: its runs and seconds per step of one run."""

    task_id: str
    runs: int
    compile_s: float  # the first step (compilation included)
    step_s: float


def ladder(nominal: int, granularity: int = GRANULARITY) -> list[int]:
    """The candidate step counts, most first: ``nominal``, then down by ``granularity`` to
    a quarter of it."""
    floor = max(granularity, nominal // 4)
    steps = [nominal] + list(range((nominal - 1) // granularity * granularity, floor - 1,
                                   -granularity))
    return [s for s in steps if s >= floor] or [nominal]


def makespan(seconds: Sequence[float], lanes: int) -> float:
    """When the last of tasks taking ``seconds``, in this order, ends on ``lanes`` workers that
    each take the next task as they come free (as the engine's workers take the next task no
    one holds)."""
    free = [0.0] * max(1, lanes)
    for s in seconds:
        i = free.index(min(free))
        free[i] += s
    return max(free)


def choose_steps(nominal: int, probes: Sequence[Probe], spent_s: float, budget_s: float,
                 eval_seconds: Callable[[int], dict[str, float]], lanes: int = 1) -> int:
    """The most steps of :func:`ladder` whose projected time fits ``budget_s``: what was
    spent measuring, then each task's runs' steps at its measured rate and its evaluations
    (``eval_seconds(steps)[task_id]``) on ``lanes`` workers (:func:`makespan`; the workers
    load the measured programs from the compilation cache), and ``OVERHEAD_S``; the ladder's
    last when none fits."""
    options = ladder(nominal)
    for steps in options:
        if projected(steps, probes, spent_s, eval_seconds, lanes) <= budget_s:
            return steps
    return options[-1]


def projected(steps: int, probes: Sequence[Probe], spent_s: float,
              eval_seconds: Callable[[int], dict[str, float]], lanes: int = 1) -> float:
    """Seconds from the start of the measurement to the last evaluation at ``steps`` (see
    :func:`choose_steps`)."""
    evals = eval_seconds(steps)
    tasks = [p.runs * steps * p.step_s + evals.get(p.task_id, 0.0) for p in probes]
    return spent_s + makespan(tasks, lanes) + OVERHEAD_S


def eval_estimate(tasks: Sequence[Task], profile: Config, probes: Sequence[Probe]):
    """``steps -> {task_id: seconds}`` of each task's evaluations: the progress bar's prior
    per run and kind, times this machine's median seconds per run-step over the
    reference's."""
    slower = max(1.0, statistics.median(p.step_s for p in probes) / PRIOR_STEP_SECONDS) \
        if probes else 1.0

    def seconds(steps: int) -> dict[str, float]:
        work = study_work(tasks, configs.override(profile, {"schedule.steps": steps}))
        return {w.task_id: slower * sum(w.runs * prior_eval_seconds(kind, profile)
                                        for kind in w.kinds) for w in work}

    return seconds


def measure(tasks: Sequence[Task], step: Callable[[Task, int, int], None],
            clock: Callable[[], float] = time.perf_counter) -> list[Probe]:
    """Time each task: ``step(task, start, stop)`` trains one of its runs from ``start`` to
    ``stop``; the first step compiles, the next ``PROBE_STEPS`` are timed."""
    probes = []
    for task in tasks:
        t0 = clock()
        step(task, 0, 1)
        t1 = clock()
        step(task, 1, 1 + PROBE_STEPS)
        t2 = clock()
        probes.append(Probe(task.task_id, len(task.runs), t1 - t0, (t2 - t1) / PROBE_STEPS))
    return probes


def _trainer_step(study: Study) -> Callable[[Task, int, int], None]:
    """Train one run of a task as the engine will (same program, same data), kept between
    calls for the same task."""
    loaded: dict[str, tuple] = {}  # data set -> (ImageDataset, its train split on the device)
    live: dict[str, tuple] = {}  # the task being measured only (a run's state is ~160 MB)

    def step(task: Task, start: int, stop: int) -> None:
        if task.dataset not in loaded:
            loaded.clear()
            data = datasets.load(task.dataset, data_dir=study.config.execution.data_dir)
            loaded[task.dataset] = (data, jax.device_put(data.train))  # as the engine
        data, images = loaded[task.dataset]
        labels = None
        if task.task_id not in live:
            live.clear()
            run = task.runs[0]
            structure = Structure.of(run, data.image_shape, data.num_classes)
            states = init_runs(structure, data.train.shape[0], np.array([run.seed], np.uint32))
            hps = {k: jnp.asarray([v], jnp.float32) for k, v in sorted(run.hp.items())}
            if "labels" in structure.recipe.needs:  # as the engine: the train labels too
                labels = jax.device_put(data.labels("train"))
            precision = study.config.fidelity.matmul_precision
            live[task.task_id] = (Trainer(structure, default_plan(), precision), states, hps,
                                  labels)
        trainer, states, hps, labels = live[task.task_id]
        states, _ = trainer.advance(states, hps, images, data.pixel_scale, start, stop,
                                    labels=labels)
        live[task.task_id] = (trainer, states, hps, labels)

    return step


def _measure_share(study: Study, tasks: Sequence[Task]) -> list[Probe]:
    return measure(tasks, _trainer_step(study))


def measure_as_workers(study: Study, tasks: Sequence[Task], lanes: int,
                       fn: Callable[..., list[Probe]] = _measure_share) -> list[Probe]:
    """``tasks`` timed as ``lanes`` workers will train them (``lanes`` at most one per task, as
    ``benchmark.runner.workers.resolve`` gives): dealt in turn to ``lanes`` new processes, each
    set up as its worker (its cores, ``benchmark.runner.workers.call_as_worker``: a process's
    cores cannot be narrowed once JAX has started its threads), all at once; ``fn(study,
    share)`` times a share. Their compilations go to the compilation cache, where the workers
    find them. The probes come back in the order of ``tasks``."""
    ctx = multiprocessing.get_context("spawn")
    cache = jax.config.jax_compilation_cache_dir
    pools = [concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) for _ in range(lanes)]
    try:
        futures = [pool.submit(workers.call_as_worker, cores, cache,
                               pickle.dumps((fn, (study, tasks[i::lanes]))))
                   for i, (pool, cores) in enumerate(zip(pools, workers.core_sets(lanes),
                                                         strict=True))]
        found = {p.task_id: p for future in futures for p in future.result()}
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
    return [found[t.task_id] for t in tasks]


def recorded_steps(out: Path, profile: Config) -> int | None:
    """The steps an earlier run of this study chose (from its manifest), if any."""
    try:
        found = json.loads((out / MANIFEST).read_text())["config"]
        name, steps = str(found.get("name", "")), found["schedule"]["steps"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if name.partition("[")[0] != profile.name or not isinstance(steps, int):
        return None
    return steps


def budgeted(profile: Config, steps: int) -> Config:
    """``profile`` at ``steps``, renamed ``name[steps=N]`` when that is below its own."""
    if steps == profile.schedule.steps:
        return profile
    return configs.override(profile, {"schedule.steps": steps})


def fit(study: Study, out: Path, *, log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.perf_counter,
        step: Callable[[Task, int, int], None] | None = None) -> Study:
    """``study`` with its profile's steps fitted to the profile's budget (module doc); the
    study itself where the profile has no budget or fixed steps."""
    profile = study.config
    budget = BUDGETS.get(profile.name)
    if budget is None or profile.schedule.steps is None:
        return study
    if sequences.is_sequence(study.runs):
        return study  # SeqGAN's schedule is fixed by its profile (benchmark.runner.sequences)
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        return study  # not a study directory: the engine refuses it before writing anything
    again = recorded_steps(out, profile)
    if again is not None:
        log(f"{profile.name}: {again} steps, as chosen when this study started ({out / MANIFEST})")
        return dataclasses.replace(study, config=budgeted(profile, again))
    tasks = make_tasks(study.runs, profile.execution.max_group)
    lanes = workers.resolve(profile.execution.workers, len(tasks), jax.default_backend())
    started = clock()
    if lanes > 1 and step is None:
        probes = measure_as_workers(study, tasks, lanes)
    else:
        probes = measure(tasks, step or _trainer_step(study), clock)
    spent = clock() - started
    evals = eval_estimate(tasks, profile, probes)
    nominal = profile.schedule.steps
    steps = choose_steps(nominal, probes, spent, budget, evals, lanes)
    rates = [1 / p.step_s for p in probes if p.step_s > 0]
    rate = statistics.median(rates) if rates else float("inf")
    each = ", ".join(f"{p.task_id} {1 / p.step_s:.1f}" for p in probes if p.step_s > 0)
    fitted = budgeted(profile, steps)
    on = f" per worker ({lanes} workers)" if lanes > 1 else ""
    renamed = "" if fitted is profile else f" (rows say {fitted.name})"
    took = projected(steps, probes, spent, evals, lanes)
    if took > budget:
        fits = (f"even {steps} steps, the fewest it trains, project to {took / 60:.0f} minutes, "
                f"over its {budget / 60:.0f}-minute budget{renamed}: this machine is too slow "
                f"for the preview's quarter hour")
    else:
        fits = (f"{steps} of {nominal} steps fit its {budget / 60:.0f}-minute budget"
                f"{renamed}")
    if steps < nominal // 2:
        full = projected(nominal, probes, spent, evals, lanes)
        fits += (f"; below {nominal // 2} steps expect fewer models to draw triangles or cross "
                 f"delta (README, \"The preview\"): --steps {nominal} trains the full preview, "
                 f"about {full / 60:.0f} minutes here")
    log(f"{profile.name}: measured {rate:.1f} run-steps/s{on} (median; {each}) in {spent:.0f} s; "
        + fits)
    return dataclasses.replace(study, config=fitted)
