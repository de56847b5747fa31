"""Running a study: groups of runs trained together, evaluated, checkpointed and resumed.

The loop (one obvious place for it, like flax's ``train_and_evaluate``)::

    for each group (runs sharing a data set and a Structure):
        restore the group's latest checkpoint, or initialise its runs from their seeds
        until the last evaluation step:
            train every run of the group for a segment of steps (one jitted call)
            at an evaluation step: score the runs, write PNG grids and result rows, checkpoint

Data sets live on the device and batches are drawn there; the runs of a group are vmapped
inside one jit, and sharded over every local device along the runs axis. Rows are written
before the checkpoint of the same step; on resume, rows after the checkpoint are dropped and
retrained, which gives the same values because a run is a pure function of its seed.
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
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from benchmark import data as datasets
from benchmark.checkpoints import GroupCheckpoints
from benchmark.data import ImageDataset
from benchmark.evaluation import Evaluator
from benchmark.results import (
    atomic_write_bytes,
    image_grid_png,
    prepare_study_dir,
    read_rows,
    write_rows,
)
from benchmark.runs import Group, Study, group_runs
from benchmark.train import (
    Plan,
    Structure,
    debias_generator_stats,
    default_plan,
    generator_bn_updates,
    init_runs,
    parameters_finite,
    train_segment,
)

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def enable_compilation_cache(directory: Path) -> None:
    """Keep compiled programs on disk, so a second study (or a resumed one) skips compiling."""
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def segment_length(interval: int, chunk: int) -> int:
    """The largest divisor of ``interval`` not above ``chunk``: every segment of an evaluation
    interval has the same length, so one interval length costs one compilation."""
    for c in range(min(chunk, interval), 0, -1):
        if interval % c == 0:
            return c
    return 1


@dataclasses.dataclass
class _Sharding:
    """Runs spread over every local device along the leading runs axis."""

    devices: int
    mesh: Mesh | None

    @classmethod
    def local(cls) -> _Sharding:
        devices = jax.local_devices()
        mesh = Mesh(np.array(devices), ("runs",)) if len(devices) > 1 else None
        return cls(len(devices), mesh)

    def padded(self, n: int) -> int:
        return -(-n // self.devices) * self.devices

    def runs(self, tree: Any) -> Any:
        if self.mesh is None:
            return tree
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec("runs")))

    def replicated(self, array: Any) -> Any:
        if self.mesh is None:
            return jax.device_put(array)
        return jax.device_put(array, NamedSharding(self.mesh, PartitionSpec()))


class _LossMeans:
    """Per-run means of the logged losses over an evaluation interval, accumulated on the
    device (NaN entries, e.g. g_loss on steps without a G update, are skipped)."""

    def __init__(self):
        self.sums: dict[str, jax.Array] = {}
        self.counts: dict[str, jax.Array] = {}

    def add(self, metrics: dict[str, jax.Array]) -> None:
        for k, v in metrics.items():  # v: [steps, runs]
            s, c = jnp.nansum(v, axis=0), jnp.sum(~jnp.isnan(v), axis=0)
            self.sums[k] = self.sums[k] + s if k in self.sums else s
            self.counts[k] = self.counts[k] + c if k in self.counts else c

    def means(self) -> dict[str, np.ndarray]:
        out = {}
        for k, s in self.sums.items():
            c = np.asarray(self.counts[k])
            out[k] = np.where(c > 0, np.asarray(s) / np.maximum(c, 1), np.nan)
        self.sums, self.counts = {}, {}
        return out


def _split(tree: Any, n: int) -> list[Any]:
    """A batched pytree as n one-run pytrees (each keeps a runs axis of length 1)."""
    return [jax.tree.map(lambda a, i=i: a[i:i + 1], tree) for i in range(n)]


def _concat(trees: list[Any], axis: int) -> Any:
    if len(trees) == 1:
        return trees[0]
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=axis), *trees)


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
    sharding: _Sharding | None = None,
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
    info = datasets.get_info(group.dataset)
    total, evals = profile.schedule(info.train_steps, info.eval_every)
    gdir = _group_dir(root, group)
    rows_path = gdir / "rows.jsonl"
    structure: Structure = group.runs[0].structure(data.image_shape)
    runs = group.runs
    sharding = sharding or _Sharding.local()
    padded = sharding.padded(len(runs))
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
        hps = sharding.runs({k: jnp.asarray([runs[i].hp[k] for i in index], jnp.float32)
                             for k in hp_names})
        states = sharding.runs(init_runs(structure, data.train.shape[0], seeds))
        if start > 0:
            states = ckpts.restore(start, like=states)
            log.info("%s: resumed at step %d", group.group_id, start)
        if progress and start:
            progress(len(runs) * start)
        if train_images is None:
            train_images = sharding.replicated(data.train)
        # One vmapped call for all runs, or (plan.split_runs) one call per run.
        parts = _split(states, padded) if plan.split_runs else [states]
        hp_parts = _split(hps, padded) if plan.split_runs else [hps]
        means = _LossMeans()
        t = start
        for e in (e for e in evals if e > start):
            seg = segment_length(e - t, plan.chunk)
            while t < e:
                g_steps = None
                if plan.static_g and structure.n_disc > 1:
                    g_steps = tuple((t + i) % structure.n_disc == 0 for i in range(seg))
                outputs = []
                for i, part in enumerate(parts):
                    parts[i], metrics = train_segment(
                        part, hp_parts[i], train_images, jnp.int32(t), structure=structure,
                        scale=float(data.pixel_scale), num_steps=seg, branch=plan.branch,
                        unroll=plan.unroll, g_steps=g_steps,
                    )
                    outputs.append(metrics)
                means.add(_concat(outputs, axis=1))
                t += seg
                if progress:
                    progress(len(runs) * seg)
            states = _concat(parts, axis=0)
            rows += _evaluate(group, structure, states, means.means(), evaluator, root, e,
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
        atomic_write_bytes(root / "samples" / run.run_id / f"step_{step:06d}.png", png)
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
        info = datasets.get_info(g.dataset)
        total += len(g.runs) * study.profile.schedule(info.train_steps, info.eval_every)[0]
    bar = _progress_bar(total, progress)
    sharding = _Sharding.local()
    current: tuple[str, jax.Array, Evaluator] | None = None  # one data set on the device
    rows: list[dict] = []
    try:
        for g in groups:
            ds = loaded[g.dataset]
            if current is None or current[0] != g.dataset:
                current = None  # frees the previous data set's device copy first
                current = (g.dataset, sharding.replicated(ds.train),
                           Evaluator(g.dataset, ds, study.profile, fid_feature=fid_feature,
                                     data_dir=data_dir))
            _, train_images, evaluator = current
            if bar is not None:
                bar.set_postfix_str(g.group_id, refresh=True)
            rows += train_group(g, ds, study, root, evaluator=evaluator, plan=plan,
                                progress=bar.update if bar is not None else None,
                                keep_checkpoints=keep_checkpoints, sharding=sharding,
                                train_images=train_images)
    finally:
        if bar is not None:
            bar.close()
    frame = pd.DataFrame(rows)
    return frame[frame["final"]].reset_index(drop=True)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run-step", dynamic_ncols=True, smoothing=0.05)
