"""Running a study: tasks (runs trained together) trained, evaluated, checkpointed, resumed.

A study is a list of independent tasks, each the runs of one program (``runner.tasks``). A task
is idempotent (finished: skipped; interrupted: resumed from its checkpoint) and leased before
it runs (``benchmark.runner.leases``), so any number of processes, Ray workers or SLURM array tasks
can share one results directory and none trains a task another is training. The loop of one
task (one obvious place for it, like flax's ``train_and_evaluate``)::

    restore the task's latest checkpoint, or initialise its runs from their seeds
    for each evaluation step:
        advance every run of the task to it (benchmark.training.Trainer)
        score the runs, write PNG grids and result rows, checkpoint
    mark the task done, delete its checkpoint

A task of the sequence family (SeqGAN and its MLE baseline on the oracle) is trained whole by
``benchmark.runner.sequences`` instead, its rows written once at the end (docs/protocol.md
§11.6). Data sets live on the device and batches are drawn there; the runs of a task are vmapped
inside one jit (or, on CPU, called one by one: the trainer's plan), and sharded over every
local device along the runs axis. Rows are written before the checkpoint of the same step; on
resume, rows after the checkpoint are dropped and retrained, which gives the same values
because a run is a pure function of its seed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.sharding import Mesh

import models
from benchmark import data as datasets
from benchmark import devices
from benchmark.data import ImageDataset
from benchmark.errors import UserError, user_input
from benchmark.evaluation.evaluator import Evaluator, fid_reference_split
from benchmark.io import atomic_write
from benchmark.runner import sequences, task_files, trace, workers
from benchmark.runner.checkpoints import TaskCheckpoints
from benchmark.runner.leases import TaskLease
from benchmark.runner.progress import StudyProgress, study_work
from benchmark.runner.results import image_grid_png, prepare_study_dir, read_rows, write_rows
from benchmark.runner.tasks import Task, make_tasks
from benchmark.training import (
    Plan,
    Structure,
    Trainer,
    default_plan,
    family,
    generator_apply,
    generator_variables,
    init_runs,
    parameters_finite,
)
from benchmark.training.generators import encoder_of
from models import priors
from models.architectures.gran import GranGenerator, canvases
from reports import latent
from sweeps import config as configs
from sweeps.runs import Study

log = logging.getLogger(__name__)


def check_study(study: Study) -> None:
    """Every run's data set offers what its model needs (labels, sequences, ...) and has an
    image shape its architecture takes: else a one-line ``UserError`` naming both and the
    data sets that would do, before anything is written. Unknown data-set names are a
    ``UserError`` too."""
    for model, arch, dataset in dict.fromkeys((r.model, r.architecture, r.dataset)
                                              for r in study.runs):
        spec = datasets.get(dataset)
        datasets.require(dataset, models.get(model).needs, f"model {model!r}")
        try:
            models.check_architecture(arch, spec.image_shape, dataset)
        except ValueError as err:
            raise UserError(str(err)) from None
        recipe = models.get(model)
        # the conditional family draws the classes G is asked for (InfoGAN's codes need none)
        if (models.architecture(arch).conditional and "labels" not in recipe.needs
                and recipe.family != "conditional"):
            raise UserError(f"architecture {arch!r} takes labels, which model {model!r} does "
                            "not use; choose another --arch")


def _task_dir(root: Path, task: Task) -> Path:
    return root / "groups" / task.task_id


def train_task(
    task: Task,
    data: ImageDataset,
    study: Study,
    root: Path,
    *,
    evaluator: Evaluator,
    plan: Plan,
    progress: StudyProgress | None = None,
    mesh: Mesh | None = None,
    train_images: jax.Array | None = None,
    train_labels: jax.Array | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train, evaluate and checkpoint one task; returns all its result rows.

    ``train_images``: the train split already on the device(s) (shared by every task of a
    data set); put there from ``data`` when not given; ``train_labels`` likewise, the train
    split's labels, handed to the step where the model needs them. ``progress`` hears of
    every segment
    trained, every evaluation done and the work an earlier call did (already started on this
    task).

    The task's checkpoint (its latest evaluation) exists while it trains, so that an
    interrupted task resumes there (the caller deletes it once the task is done; the last
    evaluation's is written only where ``execution.keep_checkpoints`` keeps it). Rows are
    kept up to the last evaluation that every run completed; a damaged rows file that lost
    rows before the checkpoint is trained again from step 0. ``on_phase(name)`` hears of each
    phase entered (train, evaluate, rows, checkpoint): the chaos script's trace
    (:func:`benchmark.runner.trace.hook`).
    """
    enter = on_phase or _no_phase
    config = study.config
    spec = datasets.get(task.dataset)
    total, evals = configs.schedule(config, spec.train_steps, spec.eval_every)
    gdir = _task_dir(root, task)
    rows_path = gdir / "rows.jsonl"
    structure = Structure.of(task.runs[0], data.image_shape, data.num_classes)
    needs_labels = structure.needs_labels
    runs = task.runs
    padded = devices.padded(len(runs), mesh)
    index = np.minimum(np.arange(padded), len(runs) - 1)  # extra runs repeat the last one

    rows = read_rows(rows_path)  # a damaged line is dropped with a warning naming the file
    complete = complete_until(rows, runs, evals)
    if complete == total:
        if progress:
            progress.skipped(len(runs) * total, len(evals))
        return rows  # finished earlier
    checkpoint_dir = gdir / "checkpoints"
    ckpts = TaskCheckpoints(checkpoint_dir)
    try:
        start = ckpts.latest_step() or 0
        if start > complete:  # rows before the checkpoint were lost: retrain from the start
            log.warning("%s lacks rows before its checkpoint at step %d; the task is trained "
                        "again from step 0", rows_path, start)
            ckpts.close()
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
            ckpts = TaskCheckpoints(checkpoint_dir)
            start = 0
        rows = [r for r in rows if r["step"] <= start]

        seeds = np.array([runs[i].seed for i in index], np.uint32)
        hp_names = sorted(runs[0].hp)
        hps = devices.shard({k: jnp.asarray([runs[i].hp[k] for i in index], jnp.float32)
                             for k in hp_names}, mesh)
        states = devices.shard(init_runs(structure, data.train.shape[0], seeds), mesh)
        if start > 0:
            states = ckpts.restore(start, like=states)
            log.info("%s: resumed at step %d", task.task_id, start)
        if progress and start:
            progress.skipped(len(runs) * start, sum(e <= start for e in evals))
        if train_images is None:
            train_images = devices.replicate(data.train, mesh)
        if not needs_labels:
            train_labels = None
        elif train_labels is None:
            train_labels = devices.replicate(data.labels("train"), mesh)
        trainer = Trainer(structure, plan, config.fidelity.matmul_precision)
        on_segment = (lambda steps: progress.trained(len(runs) * steps)) if progress else None
        t = start
        for e in (e for e in evals if e > start):
            enter("train")
            states, losses = trainer.advance(states, hps, train_images, data.pixel_scale, t, e,
                                             on_segment, labels=train_labels)
            t = e
            enter("evaluate")
            rows += _evaluate(task, structure, states, losses, evaluator, root, e,
                              last=e == total, train_split=(data.train, data.pixel_scale))
            enter("rows")
            write_rows(rows_path, rows)  # rows first: a crash before the checkpoint retrains
            if e < total or config.execution.keep_checkpoints:
                # the last evaluation's rows finish the task (run again, it returns them
                # without a checkpoint), so its checkpoint is written only to be kept
                enter("checkpoint")
                ckpts.save(e, states)
            if progress:
                progress.evaluated(e)
    finally:
        ckpts.close()
    return rows


def _no_phase(name: str) -> None:
    """``on_phase`` when nobody traces."""


def complete_until(rows: list[dict], runs, evals: list[int]) -> int:
    """The last evaluation step up to which every run has every row (0: none)."""
    present = {(r.get("run_id"), r.get("step")) for r in rows}
    done = 0
    for e in evals:
        if not all((run.run_id, e) in present for run in runs):
            break
        done = e
    return done


def failed_values(states, losses: dict, n: int) -> list[str | None]:
    """For each of the first ``n`` runs, the logged value that first stopped being finite:
    its name where the training step records which (``RunState.failed_value``, the index in
    the sorted logged names; -1 while healthy), "parameters" where only G's or D's parameters
    are not finite, else None (healthy, or not recorded)."""
    failed_step = np.asarray(states.failed_step)[:n]
    finite = np.asarray(parameters_finite(states))[:n]
    index = np.asarray(states.failed_value)[:n]
    names = sorted(losses)
    out: list[str | None] = []
    for i in range(n):
        if failed_step[i] >= 0 and 0 <= index[i] < len(names):
            out.append(names[int(index[i])])
        elif failed_step[i] < 0 and not finite[i]:
            out.append("parameters")
        else:
            out.append(None)
    return out


def _evaluate(task, structure, states, losses, evaluator, root, step, last,
              train_split=None) -> list[dict]:
    """Score every run of the task at ``step``: result rows and one PNG grid per run. A
    failed run's rows say where (``failed_step``) and, where known, what (``failed_value``)
    stopped being finite. At the last evaluation also each run's latent walk and nearest
    training images (:func:`_latent_pngs`, given the train split and its pixel scale)."""
    n = len(task.runs)
    failed_step = np.asarray(states.failed_step)[:n]
    finite = np.asarray(parameters_finite(states))[:n]
    failed = (failed_step >= 0) | ~finite
    what = failed_values(states, losses, n)
    real = jax.tree.map(lambda a: a[:n], states) if failed_step.shape[0] != n else states
    real = evaluator.inference_states(structure, real, step)  # BN: docs/protocol.md §4.3
    started = time.perf_counter()
    metrics = evaluator.metrics(structure, real, last=last)
    eval_seconds = time.perf_counter() - started
    samples = evaluator.samples(structure, real)
    if last and train_split is not None:
        _latent_pngs(task, structure, real, failed, *train_split, root)
    if last:
        _reconstruction_pngs(task, structure, real, failed, evaluator.data, root)
    rows = []
    for i, run in enumerate(task.runs):
        png = image_grid_png(samples[i])
        atomic_write(root / "samples" / run.run_id / f"step_{step:06d}.png", png)
        row = {**run.columns(), "profile": evaluator.config.name, "step": step, "final": last,
               "matmul_precision": evaluator.config.fidelity.matmul_precision,
               "failed": bool(failed[i]),
               "failed_step": int(failed_step[i]) if failed_step[i] >= 0 else None}
        if what[i] is not None:  # only failed runs carry it: healthy rows are unchanged
            row["failed_value"] = what[i]
        row.update({k: float(v[i]) for k, v in losses.items()})
        for k, v in metrics.items():
            value = v[i] if isinstance(v, np.ndarray) else v
            if isinstance(value, (float, np.floating)):
                # a failed run has no score (docs/protocol.md §4.7)
                value = math.nan if failed[i] else float(value)
            row[k] = value
        row["eval_seconds"] = eval_seconds / n
        rows.append(row)
    return rows


# What DCGAN showed about the latent space (docs/protocol.md §13.5), at a run's last evaluation:
# rows x points of a latent walk, samples x nearest training images; latents from a fixed key
# (the same for every run), drawn from the model's prior.
LATENT_KEY, WALK_ROWS, WALK_POINTS, NEAREST_SAMPLES, NEAREST_K = 21, 4, 10, 6, 3
WALK_PNG, NEAREST_PNG, CANVAS_PNG = "latent_walk.png", "nearest.png", "canvas.png"


def _latent_pngs(task, structure, states, failed, train, scale, root) -> None:
    """``samples/<run_id>/latent_walk.png`` and ``nearest.png`` of every healthy run (and
    ``canvas.png``, the canvas after each step, for a recurrent G: GRAN)."""
    key = jax.random.PRNGKey(LATENT_KEY)
    z_dim, prior = structure.z_dim, structure.recipe.latent
    ends = np.asarray(priors.sample(key, (2 * WALK_ROWS, z_dim), prior))
    z = np.asarray(priors.sample(jax.random.fold_in(key, 1), (NEAREST_SAMPLES, z_dim), prior))
    apply_fn = generator_apply(structure)
    G = family(structure).generator(structure)
    variables = generator_variables(states)
    for i, run in enumerate(task.runs):
        if failed[i]:
            continue
        mine = jax.tree.map(lambda a, i=i: a[i], variables)

        def sample(zs, mine=mine):
            return np.asarray(apply_fn(mine, jnp.asarray(zs, jnp.float32)))

        folder = root / "samples" / run.run_id
        atomic_write(folder / WALK_PNG, latent.latent_walk_png(
            sample, ends[:WALK_ROWS], ends[WALK_ROWS:], WALK_POINTS))
        atomic_write(folder / NEAREST_PNG, latent.nearest_png(sample(z), train, NEAREST_K,
                                                             scale=scale))
        if isinstance(G, GranGenerator):
            strip = [np.asarray(c) for c in canvases(G, mine, jnp.asarray(z, jnp.float32))]
            atomic_write(folder / CANVAS_PNG, latent.canvas_strip_png(strip))


# A model with an encoder (docs/protocol.md §12.8): RECON_IMAGES test images (the split's first)
# above their reconstructions G(E(x)), E's mean in inference mode, at a run's last evaluation.
RECON_IMAGES, RECON_PNG = 8, "reconstruction.png"


def _reconstruction_pngs(task, structure, states, failed, data: ImageDataset, root) -> None:
    """``samples/<run_id>/reconstruction.png`` of every healthy run of a model with an encoder
    (:func:`encoder_of`): a row of test images above a row of their reconstructions."""
    found = encoder_of(structure)
    if found is None:
        return
    encode_fn, variables_of = found
    split = "test" if getattr(data, "test", None) is not None else "train"
    x = jnp.asarray(data.as_float(data.split(split)[:RECON_IMAGES]))
    apply_fn = generator_apply(structure)
    g_vars, e_vars = generator_variables(states), variables_of(states)
    for i, run in enumerate(task.runs):
        if failed[i]:
            continue
        mine_g = jax.tree.map(lambda a, i=i: a[i], g_vars)
        mine_e = jax.tree.map(lambda a, i=i: a[i], e_vars)
        recon = np.asarray(apply_fn(mine_g, encode_fn(mine_e, x)))
        atomic_write(root / "samples" / run.run_id / RECON_PNG,
                     image_grid_png(np.concatenate([np.asarray(x), recon]), cols=len(x)))


class TaskRunner:
    """Runs the tasks of one study, one call per task: ``runner(task_id)``.

    Picklable, so an executor can ship it to Ray workers or SLURM jobs; what it loads (data
    sets, their device copies, the evaluators) is cached per process and never pickled.
    Returns "done" (finished earlier, by anyone), "busy" (another live process holds the
    task's lease) or "trained".
    """

    def __init__(self, study: Study, root: Path, plan: Plan | None = None):
        self.study, self.root, self.plan = study, Path(root), plan
        self.tasks = {g.task_id: g for g in
                      sorted(make_tasks(study.runs, study.config.execution.max_group),
                             key=lambda g: g.dataset)}  # one data set on the device at a time
        self.progress: StudyProgress | None = None  # the study's bar, in this process
        self._loaded: dict[str, ImageDataset] = {}
        self._device: tuple[str, jax.Array, Evaluator] | None = None

    @property
    def config(self):
        return self.study.config

    def __getstate__(self) -> dict:
        return {"study": self.study, "root": self.root, "plan": self.plan}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["study"], state["root"], state["plan"])

    def schedule(self, task: Task) -> tuple[int, list[int]]:
        """(total steps, evaluation steps) of a task: the profile's on its data set, or for
        the sequence family its SeqGAN schedule's points (``benchmark.runner.sequences``)."""
        if sequences.is_sequence(task.runs):
            return sequences.evaluation_steps(self.config, task)
        spec = datasets.get(task.dataset)
        return configs.schedule(self.config, spec.train_steps, spec.eval_every)

    def steps(self, task_id: str) -> int:
        """Run-steps of a task (its runs times the profile's steps on its data set)."""
        task = self.tasks[task_id]
        return len(task.runs) * self.schedule(task)[0]

    def load(self, dataset: str) -> ImageDataset:
        """The data set's splits; for a data set of sequences (SeqGAN's oracle) the oracle and
        the sequences the profile's schedule trains on (``sequences.corpus``)."""
        if dataset not in self._loaded:
            if "sequences" in datasets.get(dataset).offers:
                self._loaded[dataset] = sequences.corpus(self.config,
                                                         self.config.execution.data_dir)
            else:
                self._loaded[dataset] = datasets.load(dataset,
                                                      data_dir=self.config.execution.data_dir)
        return self._loaded[dataset]

    def _on_device(self, dataset: str) -> tuple[jax.Array, jax.Array | None, Evaluator]:
        """The train split's images and labels (None where the data set has none) on the
        device(s), and the data set's evaluator."""
        if self._device is None or self._device[0] != dataset:
            self._device = None  # frees the previous data set's device copy first
            ds = self.load(dataset)
            mesh = devices.local_mesh()
            labels = ds.labels("train")
            self._device = (dataset, devices.replicate(ds.train, mesh),
                            None if labels is None else devices.replicate(labels, mesh),
                            Evaluator(datasets.get(dataset), ds, self.config))
        return self._device[1], self._device[2], self._device[3]

    def _finished(self, task_id: str) -> bool:
        """Marked done and its rows complete (a damaged rows file reopens the task)."""
        if not task_files.is_done(self.root, task_id):
            return False
        task = self.tasks[task_id]
        total, evals = self.schedule(task)
        rows = read_rows(_task_dir(self.root, task) / "rows.jsonl")
        return complete_until(rows, task.runs, evals) == total

    def _clean(self, task_id: str) -> None:
        """A finished task's checkpoints go (a 28x28 run's full state is ~160 MB)."""
        if not self.config.execution.keep_checkpoints:
            shutil.rmtree(_task_dir(self.root, self.tasks[task_id]) / "checkpoints",
                          ignore_errors=True)

    def __call__(self, task_id: str) -> str:
        if self._finished(task_id):
            self._clean(task_id)  # also after a kill between "done" and the clean-up
            if self.progress:
                self.progress.skip_rest()
            return "done"
        lease = TaskLease.try_acquire(self.root, task_id)
        if lease is None:
            return "busy"
        with lease:
            if self._finished(task_id):  # finished while we waited for the lease
                self._clean(task_id)
                if self.progress:
                    self.progress.skip_rest()
                return "done"
            task_files.clear_markers(self.root, task_id)
            task = self.tasks[task_id]
            sequence = sequences.is_sequence(task.runs)  # SeqGAN and MLE: no images, no FID
            if not sequence:
                train_images, train_labels, evaluator = self._on_device(task.dataset)
            on_phase = trace.hook(task_id)  # the chaos script's trace, when it asks for one
            try:
                if sequence:
                    sequences.train_task(task, self.load(task.dataset), self.study, self.root,
                                         progress=self.progress)
                else:
                    train_task(task, self.load(task.dataset), self.study, self.root,
                               evaluator=evaluator, plan=self.plan or default_plan(),
                               progress=self.progress, mesh=devices.local_mesh(),
                               train_images=train_images, train_labels=train_labels,
                               on_phase=on_phase)
            except Exception:
                task_files.mark_failed(self.root, task_id, traceback.format_exc())
                raise
            if on_phase:
                on_phase("done")
            task_files.mark_done(self.root, task_id)
            self._clean(task_id)
        return "trained"


POLL_SECONDS = 5.0  # how often a process looks again at tasks that others hold


def check_results_dir(root: Path) -> None:
    """A one-line error, before anything is written, unless ``root`` can hold results."""
    if root.exists() and not root.is_dir():
        raise UserError(f"results directory {root} is a file; choose another --results-dir")
    existing = root
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to {existing} (permission denied); choose a writable "
                        "--results-dir")


def run_study(
    study: Study,
    results_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    plan: Plan | None = None,
    fid_feature: str | None = None,
    progress: bool = True,
    keep_checkpoints: bool | None = None,
    executor: Any = None,
) -> pd.DataFrame:
    """Train and evaluate every run of ``study`` under ``results_dir`` (resumable, shareable).

    Every task is leased before it runs, so several processes can work on one directory; this
    process trains what no one else holds and waits for the rest, or, with
    ``execution.workers`` above 1 (0: one per CPU core), starts that many worker processes on
    this machine, each pinned to its share of the cores (``benchmark.runner.workers``), and
    resumes what a worker that died left. ``executor`` (from
    ``benchmark.runner.executors``: Ray, SLURM; None: this process) runs the unfinished tasks
    elsewhere first. Returns the rows of the last evaluation of every
    run. A directory that holds another study is refused; a finished task is not retrained.
    ``data_dir``, ``fid_feature`` and ``keep_checkpoints``, where given, set the study's
    configuration keys of those names (``sweeps.config.FLAGS``); ``plan`` is how the trainer
    calls the runs of a task (``benchmark.training.Plan``; None: vmapped).
    """
    root = Path(results_dir)
    changes = {"execution.data_dir": None if data_dir is None else str(data_dir),
               "evaluation.fid_feature": fid_feature,
               "execution.keep_checkpoints": keep_checkpoints}
    with user_input():
        study = dataclasses.replace(study, config=configs.override(
            study.config, {k: v for k, v in changes.items() if v is not None}))
    check_results_dir(root)
    check_study(study)
    runner = TaskRunner(study, root, plan)
    for task in runner.tasks.values():  # unknown names and missing data fail first
        fid_reference_split(datasets.get(task.dataset), study.config.fidelity.fid_reference)
        runner.load(task.dataset)
    # the fingerprint (runs, and the configuration's keys that change results) guards the
    # directory: it is resumed only by the same study
    prepare_study_dir(root, study.name, study.fingerprint(), {
        "config": configs.as_dict(study.config),
        "tasks": {task: [r.run_id for r in g.runs] for task, g in runner.tasks.items()},
        "runs": [r.columns() for r in study.runs],
    })
    tasks = list(runner.tasks)
    if executor is not None:
        outcomes = executor.run(task_files.unfinished(root, tasks), runner, progress=progress)
        failed = [o for o in outcomes.values() if o.status == "failed"]
        if failed:
            raise UserError(f"{len(failed)} task(s) failed, e.g. {failed[0].task_id}: "
                            f"{failed[0].error}; see {root}/groups/<task>/FAILED, and rerun "
                            "the same command to retry them")
    # one bar over training and evaluation, in run-steps (benchmark.runner.progress)
    bar = StudyProgress(study_work(list(runner.tasks.values()), study.config),
                        study.config, enabled=progress)
    runner.progress = bar
    left = task_files.unfinished(root, tasks) if executor is None else []
    count = workers.resolve(study.config.execution.workers, len(left), jax.default_backend())
    try:
        if count > 1:  # worker processes, each on its share of the cores (runner.workers);
            # the runner travels without its bar (TaskRunner.__getstate__): each worker relays
            workers.run_workers(runner, left, count, bar=bar, root=root,
                                cache_dir=jax.config.jax_compilation_cache_dir)
        _run_here(runner, tasks, bar)  # all of them, or what a dead worker left
    finally:
        bar.close()
    return study_final_rows(root, runner)


def _run_here(runner: TaskRunner, tasks: list[str], bar: StudyProgress) -> None:
    """Run every task in this process, waiting for those that other processes hold."""
    pending, told = tasks, False
    while pending:
        busy = []
        for task in pending:
            bar.start(task)
            if runner(task) == "busy":
                busy.append(task)
        if busy:
            if not told:
                log.warning("%d task(s) are being trained by other processes; waiting for "
                            "them", len(busy))
                told = True
            time.sleep(POLL_SECONDS)
        pending = busy


def study_final_rows(root: Path, runner: TaskRunner) -> pd.DataFrame:
    """The last evaluation of every run, read from the results directory."""
    rows = []
    for task in runner.tasks.values():
        rows += read_rows(_task_dir(root, task) / "rows.jsonl")
    frame = pd.DataFrame(rows)
    return frame[frame["final"]].reset_index(drop=True)

