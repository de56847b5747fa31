"""The runner's path for the sequence family (docs/protocol.md §11): SeqGAN and its MLE baseline
on SeqGAN's oracle, as tasks of a study like any other.

A task of this family (its runs: one model, several seeds) is trained whole in one compiled
program, vmapped over its runs, by :func:`benchmark.training.seqgan.make_train` under the
SeqGAN schedule its profile names (``SCHEDULES``: smoke, preview, paper). Its rows go to the
same ``groups/<task_id>/rows.jsonl`` through the same row writer, once, atomically, when the
task is done, so a finished task is never redone and an interrupted one is trained again from
its seeds (a run is a pure function of its seed). Each row is one evaluation point of the
original code: ``step`` counts MLE epochs, then ``pretrain_epochs`` + adversarial batches
(:func:`points`); ``phase`` says which (random, mle, adversarial). Image-only outputs (PNG
grids, latent walks) do not exist here: each run writes a few decoded samples, token ids,
to ``samples/<run_id>/samples.txt``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import models
from benchmark.data import oracle as oracle_data
from benchmark.errors import UserError
from benchmark.io import atomic_write
from benchmark.runner.results import read_rows, write_rows
from benchmark.runner.tasks import Task
from benchmark.training import seqgan as sg
from models.seqgan import lstm
from sweeps.config import Config
from sweeps.runs import RunSpec, Study

FAMILY = "sequence"
ADVERSARIAL = {"mle": False, "seqgan": True}  # model -> whether it trains past pretraining
# (train, test) sequences drawn from the oracle per profile: the preview's as seqgan-preview's
CORPUS_SIZES = {"paper": (10_000, 10_000), "preview": (10_000, 2_000), "smoke": (256, 64)}
SAMPLES_TXT, SAMPLE_COUNT, SAMPLE_KEY = "samples.txt", 8, 21
# the schedule's hyperparameters a run sets (its lr and beta1 are G's Adam's); the rest keep
# ``seqgan.HPARAMS``
RUN_HPARAMS = {"g_lr": "lr", "g_beta1": "beta1"}


def is_sequence(runs: Iterable[RunSpec]) -> bool:
    """Whether these runs (a task's or a study's) train the sequence family: the one rule for
    both (a task's runs share one model; a study's mix none, as the CLI refuses a model on a
    data set without what it needs and no data set offers both images and sequences)."""
    return any(models.get(r.model).family == FAMILY for r in runs)


def schedule(profile: Config) -> sg.Schedule:
    """The SeqGAN schedule the profile names; a one-line UserError for any other profile."""
    if profile.name not in sg.SCHEDULES:
        raise UserError(f"profile {profile.name!r} has no SeqGAN schedule; train the sequence "
                        f"models with --profile {', '.join(sg.SCHEDULES)} (without --steps or "
                        "--eval-every)")
    return sg.SCHEDULES[profile.name]


def describe(profile: Config) -> str:
    """The SeqGAN schedule of the profile in words (what a sweep prints as it starts)."""
    sched = schedule(profile)
    return (f"SeqGAN schedule {profile.name}: {sched.pretrain_epochs} MLE epochs, "
            f"{sched.d_pretrain_rounds} D pretraining rounds, {sched.adversarial_batches} "
            f"adversarial batches, evaluated every {sched.eval_every}; vocabulary "
            f"{sched.vocab}, length {sched.length}")


def adversarial(model: str) -> bool:
    if model not in ADVERSARIAL:
        raise UserError(f"model {model!r} has no sequence training; choose one of: "
                        f"{', '.join(ADVERSARIAL)}")
    return ADVERSARIAL[model]


def points(sched: sg.Schedule, adv: bool) -> list[tuple[int, str, str, int]]:
    """(step, phase, curve, index) of every evaluation of ``make_train``'s curves: before
    training (step 0), after MLE epochs 1, 1 + eval_every, ..., after adversarial batches
    P + 1, P + 1 + eval_every, ... (P = pretrain_epochs) and at the end (P, or P + the
    adversarial batches); a point at the end's step is the end's G, so it is dropped."""
    p, a, every = sched.pretrain_epochs, sched.adversarial_batches, sched.eval_every
    found = [(0, "random", "start", 0)]
    found += [(1 + i * every, "mle", "pretrain", i) for i in range(p // every)]
    if adv:
        found += [(p + 1 + i * every, "adversarial", "adversarial", i) for i in range(a // every)]
    end = p + a if adv else p
    return [x for x in found if x[0] != end] + [(end, "adversarial" if adv else "mle", "end", 0)]


def evaluation_steps(profile: Config, task: Task) -> tuple[int, list[int]]:
    """(last step, evaluation steps) of a sequence task, as ``sweeps.config.schedule`` gives them
    for an image task."""
    steps = [x[0] for x in points(schedule(profile), adversarial(task.runs[0].model))]
    return steps[-1], steps


def draw_corpus(sched: sg.Schedule, n_train: int, n_test: int,
                data_dir: str | Path | None = None) -> dict[str, Any]:
    """The oracle for the schedule and ``n_train`` + ``n_test`` sequences drawn from it: the
    one draw of the runner and ``seqgan-preview``. The original oracle from ``data_dir`` (else
    the seeded stand-in, ``benchmark.data.oracle``); a schedule with a smaller vocabulary (the
    smoke's) takes a small seeded oracle of its sizes. Key 0: train from ``fold_in(key, 1)``,
    test from ``fold_in(key, 2)``."""
    if sched.vocab == oracle_data.VOCAB:
        orc = oracle_data.load_oracle(None if data_dir is None else Path(data_dir))
        name, source, params = orc.name, orc.source, orc.params
    else:
        params = lstm.init_lstm(jax.random.PRNGKey(oracle_data.SEEDED_SEED), sched.vocab,
                                sched.emb, sched.hidden, stddev=1.0)
        name, source = f"seeded_normal_{oracle_data.SEEDED_SEED}_small", "seeded"
    oracle = {k: jnp.asarray(v) for k, v in params.items()}
    key = jax.random.PRNGKey(0)
    draw = jax.jit(lstm.sample_many, static_argnums=(2, 3, 4))
    train = draw(oracle, jax.random.fold_in(key, 1), n_train, sched.length,
                 min(sched.chunk, n_train))
    test = draw(oracle, jax.random.fold_in(key, 2), n_test, sched.length,
                min(sched.chunk, n_test))
    return {"oracle_name": name, "oracle_source": source, "oracle": oracle, "train": train,
            "test": test}


def corpus(profile: Config, data_dir: str | Path | None = None) -> dict[str, Any]:
    """:func:`draw_corpus` for the profile's schedule at its sizes (``CORPUS_SIZES``)."""
    return draw_corpus(schedule(profile), *CORPUS_SIZES[profile.name], data_dir=data_dir)


def _complete(rows: list[dict], task: Task, steps: list[int]) -> bool:
    present = {(r.get("run_id"), r.get("step")) for r in rows}
    return all((run.run_id, s) in present for run in task.runs for s in steps)


def train_task(task: Task, data: dict[str, Any], study: Study, root: Path,
               progress=None) -> list[dict[str, Any]]:
    """Train every run of a sequence task at once, write its rows and samples; returns the
    rows. Rows already complete (written before a kill) are kept, not retrained."""
    profile = study.config
    sched = schedule(profile)
    adv = adversarial(task.runs[0].model)
    pts = points(sched, adv)
    steps = [x[0] for x in pts]
    rows_path = root / "groups" / task.task_id / "rows.jsonl"
    rows = read_rows(rows_path)
    if _complete(rows, task, steps):
        if progress is not None:
            progress.skip_rest()
        return rows
    hps = {k: jnp.asarray([run.hp.get(RUN_HPARAMS.get(k), v) for run in task.runs], jnp.float32)
           for k, v in sg.HPARAMS.items()}
    keys = jnp.stack([jax.random.PRNGKey(run.seed) for run in task.runs])
    train = jax.jit(jax.vmap(sg.make_train(sched, adv), in_axes=(0, 0, None, None)))
    started = time.perf_counter()
    state, curves = jax.block_until_ready(
        train(keys, hps, data["oracle"], {"train": data["train"], "test": data["test"]}))
    seconds = time.perf_counter() - started
    curves = {k: np.asarray(v) for k, v in curves.items()}
    rows = []
    for i, run in enumerate(task.runs):
        failed_step = None
        for step, phase, curve, j in pts:
            values = curves[curve][i] if curve in ("start", "end") else curves[curve][i, j]
            if failed_step is None and not np.isfinite(values).all():
                failed_step = step
            failed = failed_step is not None
            rows.append({**run.columns(), "profile": profile.name, "step": step,
                         "final": step == steps[-1],
                         "matmul_precision": profile.fidelity.matmul_precision, "failed": failed,
                         "failed_step": failed_step, "phase": phase,
                         "oracle": data["oracle_name"],
                         "nll_oracle": math.nan if failed else float(values[0]),
                         "nll_test": math.nan if failed else float(values[1]),
                         "train_seconds": seconds / len(task.runs)})
    _write_samples(task, state.g, sched, root, steps[-1], data["oracle_name"])
    write_rows(rows_path, rows)
    if progress is not None:  # the study's bar counts MLE epochs and adversarial batches
        progress.trained(len(task.runs) * steps[-1])  # its evaluations' time included
    return rows


def _write_samples(task: Task, generators, sched: sg.Schedule, root: Path, step: int,
                   oracle_name: str) -> None:
    """``samples/<run_id>/samples.txt``: SAMPLE_COUNT sequences of each run's final G, token
    ids separated by spaces, one sequence a line (a fixed key, the same for every run)."""
    key = jax.random.PRNGKey(SAMPLE_KEY)
    draw = jax.jit(jax.vmap(lambda g: lstm.sample(g, key, SAMPLE_COUNT, sched.length)))
    tokens = np.asarray(draw(generators))
    for i, run in enumerate(task.runs):
        lines = [f"# {run.model} seed {run.seed}, step {step}, oracle {oracle_name}: "
                 f"{SAMPLE_COUNT} sampled sequences of token ids"]
        lines += [" ".join(str(int(t)) for t in seq) for seq in tokens[i]]
        atomic_write(root / "samples" / run.run_id / SAMPLES_TXT, "\n".join(lines) + "\n")
