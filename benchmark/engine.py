"""Running a study: groups of runs trained together, evaluated, checkpointed and resumed.

The loop (one obvious place for it, like flax's ``train_and_evaluate``)::

    for each group (runs sharing a data set and a Structure):
        restore the group's latest checkpoint, or initialise its runs from their seeds
        for each evaluation step:
            advance every run of the group to it (benchmark.training.Trainer)
            score the runs, write PNG grids and result rows, checkpoint

Data sets live on the device and batches are drawn there; the runs of a group are vmapped
inside one jit (or, on CPU, called one by one: the trainer's plan), and sharded over every
local device along the runs axis. Rows are written before the checkpoint of the same step; on
resume, rows after the checkpoint are dropped and retrained, which gives the same values
because a run is a pure function of its seed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.sharding import Mesh
from tqdm.auto import tqdm

from benchmark import data as datasets
from benchmark import devices
from benchmark.checkpoints import GroupCheckpoints
from benchmark.data import ImageDataset
from benchmark.evaluation import Evaluator
from benchmark.io import atomic_write
from benchmark.results import image_grid_png, prepare_study_dir, read_rows, write_rows
from benchmark.tasks import Group, group_runs
from benchmark.training import (
    Plan,
    Structure,
    Trainer,
    debias_generator_stats,
    default_plan,
    generator_bn_updates,
    init_runs,
    parameters_finite,
)
from sweeps.runs import Study

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def enable_compilation_cache(directory: Path) -> None:
    """Keep compiled programs on disk, so a second study (or a resumed one) skips compiling."""
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def _group_dir(root: Path, group: Group) -> Path:
    return root / "groups" / group.group_id


def train_group(
    group: Group,
    data: ImageDataset,
    study: Study,
    root: Path,
    *,
    evaluator: Evaluator,
    plan: Plan,
    progress: Progress | None = None,
    keep_checkpoints: bool = False,
    mesh: Mesh | None = None,
    train_images: jax.Array | None = None,
) -> list[dict[str, Any]]:
    """Train, evaluate and checkpoint one group; returns all its result rows.

    ``train_images``: the train split already on the device(s) (shared by every group of a
    data set); put there from ``data`` when not given.

    The group's checkpoint (its latest evaluation) exists while it trains, so that an
    interrupted group resumes there; once the group is finished it is deleted unless
    ``keep_checkpoints`` (then the final states stay, e.g. to re-score the generators).
    """
    profile = study.profile
    spec = datasets.get(group.dataset)
    total, evals = profile.schedule(spec.train_steps, spec.eval_every)
    gdir = _group_dir(root, group)
    rows_path = gdir / "rows.jsonl"
    structure = Structure.of(group.runs[0], data.image_shape)
    runs = group.runs
    padded = devices.padded(len(runs), mesh)
    index = np.minimum(np.arange(padded), len(runs) - 1)  # extra runs repeat the last one

    rows = read_rows(rows_path)
    if len(rows) == len(runs) * len(evals) and all(r["step"] <= total for r in rows):
        if progress:
            progress(len(runs) * total)
        return rows  # finished earlier
    ckpts = GroupCheckpoints(gdir / "checkpoints")
    try:
        start = ckpts.latest_step() or 0
        rows = [r for r in rows if r["step"] <= start]

        seeds = np.array([runs[i].seed for i in index], np.uint32)
        hp_names = sorted(runs[0].hp)
        hps = devices.shard({k: jnp.asarray([runs[i].hp[k] for i in index], jnp.float32)
                             for k in hp_names}, mesh)
        states = devices.shard(init_runs(structure, data.train.shape[0], seeds), mesh)
        if start > 0:
            states = ckpts.restore(start, like=states)
            log.info("%s: resumed at step %d", group.group_id, start)
        if progress and start:
            progress(len(runs) * start)
        if train_images is None:
            train_images = devices.replicate(data.train, mesh)
        trainer = Trainer(structure, plan)
        on_segment = (lambda steps: progress(len(runs) * steps)) if progress else None
        t = start
        for e in (e for e in evals if e > start):
            states, losses = trainer.advance(states, hps, train_images, data.pixel_scale, t, e,
                                             on_segment)
            t = e
            rows += _evaluate(group, structure, states, losses, evaluator, root, e,
                              last=e == total)
            write_rows(rows_path, rows)  # rows first: a crash before the checkpoint retrains
            ckpts.save(e, states)
    finally:
        ckpts.close()
    if not keep_checkpoints:  # the rows hold the results; a run's full state is ~160 MB
        shutil.rmtree(gdir / "checkpoints", ignore_errors=True)
    return rows


def _evaluate(group, structure, states, losses, evaluator, root, step, last) -> list[dict]:
    """Score every run of the group at ``step``: result rows and one PNG grid per run."""
    n = len(group.runs)
    failed_step = np.asarray(states.failed_step)[:n]
    finite = np.asarray(parameters_finite(states))[:n]
    failed = (failed_step >= 0) | ~finite
    real = jax.tree.map(lambda a: a[:n], states) if failed_step.shape[0] != n else states
    if evaluator.profile.debias_bn:
        real = debias_generator_stats(real, generator_bn_updates(structure, step))
    started = time.perf_counter()
    metrics = evaluator.metrics(structure, real, last=last)
    eval_seconds = time.perf_counter() - started
    samples = evaluator.samples(structure, real)
    rows = []
    for i, run in enumerate(group.runs):
        png = image_grid_png(samples[i])
        atomic_write(root / "samples" / run.run_id / f"step_{step:06d}.png", png)
        row = {**run.columns(), "profile": evaluator.profile.name, "step": step, "final": last,
               "failed": bool(failed[i]),
               "failed_step": int(failed_step[i]) if failed_step[i] >= 0 else None}
        row.update({k: float(v[i]) for k, v in losses.items()})
        for k, v in metrics.items():
            value = v[i] if isinstance(v, np.ndarray) else v
            if isinstance(value, (float, np.floating)):
                # a failed run has no score (PROTOCOL, FID: a NaN result is a failed run)
                value = math.nan if failed[i] else float(value)
            row[k] = value
        row["eval_seconds"] = eval_seconds / n
        rows.append(row)
    return rows


def run_study(
    study: Study,
    results_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    plan: Plan | None = None,
    fid_feature: str = "auto",
    progress: bool = True,
    keep_checkpoints: bool = False,
) -> pd.DataFrame:
    """Train and evaluate every run of ``study`` under ``results_dir`` (resumable).

    Returns the rows of the last evaluation of every run. A directory that holds another
    study is refused; a finished group is not retrained.
    """
    root = Path(results_dir)
    # Groups of one data set run one after another, so each data set goes to the device once.
    groups = sorted(group_runs(study.runs, study.profile.max_group), key=lambda g: g.dataset)
    loaded: dict[str, ImageDataset] = {}
    for g in groups:  # unknown names and missing data fail before anything is written
        if g.dataset not in loaded:
            loaded[g.dataset] = datasets.load(g.dataset, data_dir=data_dir)
    prepare_study_dir(root, study.name, study.fingerprint(), {
        "profile": dataclasses.asdict(study.profile),
        "runs": [r.columns() for r in study.runs],
    })
    plan = plan or default_plan()
    total = 0
    for g in groups:
        spec = datasets.get(g.dataset)
        total += len(g.runs) * study.profile.schedule(spec.train_steps, spec.eval_every)[0]
    bar = _progress_bar(total, progress)
    mesh = devices.local_mesh()
    current: tuple[str, jax.Array, Evaluator] | None = None  # one data set on the device
    rows: list[dict] = []
    try:
        for g in groups:
            ds = loaded[g.dataset]
            if current is None or current[0] != g.dataset:
                current = None  # frees the previous data set's device copy first
                current = (g.dataset, devices.replicate(ds.train, mesh),
                           Evaluator(datasets.get(g.dataset), ds, study.profile,
                                     fid_feature=fid_feature, data_dir=data_dir))
            _, train_images, evaluator = current
            if bar is not None:
                bar.set_postfix_str(g.group_id, refresh=True)
            rows += train_group(g, ds, study, root, evaluator=evaluator, plan=plan,
                                progress=bar.update if bar is not None else None,
                                keep_checkpoints=keep_checkpoints, mesh=mesh,
                                train_images=train_images)
    finally:
        if bar is not None:
            bar.close()
    frame = pd.DataFrame(rows)
    return frame[frame["final"]].reset_index(drop=True)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    return tqdm(total=total, unit="run-step", dynamic_ncols=True, smoothing=0.05)
