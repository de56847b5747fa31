"""The runner's path for the sequence family (docs/protocol.md §11): SeqGAN and its MLE baseline
on SeqGAN's oracle, as tasks of a study like any other.

A task of this family (its runs: one model, several seeds) is trained vmapped over its runs,
under the SeqGAN schedule its profile names (``SCHEDULES``: smoke, preview, paper), in chunks
cut at the schedule's evaluation points (:func:`chunks`): the start (initialisation and the
evaluation before training), each block of ``eval_every`` MLE epochs, D's pretraining, each
block of ``eval_every`` adversarial batches, the end's evaluation. Each chunk is one of
:mod:`benchmark.training.seqgan`'s chunk functions, the ones its pure ``make_train`` scans;
each kind is compiled once (:func:`programs`) and serves every chunk of that kind. After each
chunk the runs' keys, state, curve so far and the chunk's index are checkpointed with the
engine's orbax checkpoints in ``groups/<task_id>/checkpoints`` (deleted when the task is done
unless ``--keep-checkpoints``), and the study's bar advances by the chunk's steps; an
interrupted task resumes after its last checkpointed chunk and ends with the rows of an
uninterrupted one (a run is a pure function of its seed; its keys travel in the checkpoint).
(Not bit for bit ``make_train``'s: compiled as one program, it sees that Adam's state starts
at zeros and XLA computes the first MLE block differently in the last bits.) Its rows go to
the same ``groups/<task_id>/rows.jsonl`` through the same row writer, once, atomically, when
the task is done, so a finished task is never redone. Each row is one evaluation point of
the original code: ``step`` counts MLE epochs, then ``pretrain_epochs`` + adversarial batches
(:func:`points`); ``phase`` says which (random, mle, adversarial). Image-only outputs (PNG
grids, latent walks) do not exist here: each run writes a few decoded samples, token ids,
to ``samples/<run_id>/samples.txt``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import models
from benchmark.data import oracle as oracle_data
from benchmark.errors import UserError
from benchmark.io import atomic_write
from benchmark.runner.checkpoints import TaskCheckpoints
from benchmark.runner.results import read_rows, write_rows
from benchmark.runner.tasks import Task
from benchmark.training import seqgan as sg
from models.seqgan import lstm
from sweeps.config import Config
from sweeps.runs import RunSpec, Study

log = logging.getLogger(__name__)

FAMILY = "sequence"
CHECKPOINTS = "checkpoints"  # groups/<task_id>/checkpoints, as the engine's (it deletes them)
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


class Programs(NamedTuple):
    """The compiled chunks of one schedule (``seqgan``'s chunk functions vmapped over a
    task's runs and jitted): one program per kind, whatever the chunk's index or task."""

    start: Any
    pre: Any
    d: Any
    adv: Any
    end: Any


@functools.lru_cache(maxsize=8)
def programs(sched: sg.Schedule) -> Programs:
    """:class:`Programs` of the schedule, built once per process (jax compiles each again
    only for another number of runs)."""
    runs, shared = 0, None
    return Programs(
        start=jax.jit(jax.vmap(lambda key, hp, oracle, data: sg.start_chunk(
            key, hp, oracle, data, sched), in_axes=(runs, runs, shared, shared))),
        pre=jax.jit(jax.vmap(lambda keys, state, i, hp, oracle, data: sg.pre_chunk(
            keys, state, i, hp, oracle, data, sched),
            in_axes=(runs, runs, shared, runs, shared, shared))),
        d=jax.jit(jax.vmap(lambda keys, state, hp, data: sg.d_chunk(
            keys, state, hp, data, sched), in_axes=(runs, runs, runs, shared))),
        adv=jax.jit(jax.vmap(lambda keys, state, i, hp, oracle, data: sg.adv_chunk(
            keys, state, i, hp, oracle, data, sched),
            in_axes=(runs, runs, shared, runs, shared, shared))),
        end=jax.jit(jax.vmap(lambda keys, state, oracle, data: sg.end_chunk(
            keys, state, oracle, data, sched), in_axes=(runs, runs, shared, shared))))


class Chunk(NamedTuple):
    """One piece of a task's training: its kind (start, pre, d, adv, end), its block's index
    among its kind's, the epochs or batches it trains, and the column of the task's curve its
    evaluation fills (None for D's pretraining, which evaluates nothing)."""

    kind: str
    block: int
    steps: int
    slot: int | None


CURVES = {"start": "start", "pre": "pretrain", "adv": "adversarial", "end": "end"}  # make_train's


def chunks(sched: sg.Schedule, adv: bool) -> list[Chunk]:
    """A task's chunks in order: the start (init and the evaluation before training), the MLE
    blocks of ``eval_every`` epochs, then for SeqGAN D's pretraining and the adversarial blocks
    of ``eval_every`` batches, and the end's evaluation. Steps (epochs, batches) sum to the
    last of :func:`points`; the evaluations fill the curve's columns in this order."""
    sg.check_schedule(sched)
    every = sched.eval_every
    found = [("start", 0, 0)]
    found += [("pre", i, every) for i in range(sched.pretrain_epochs // every)]
    if adv:
        found += [("d", 0, 0)]
        found += [("adv", i, every) for i in range(sched.adversarial_batches // every)]
    found += [("end", 0, 0)]
    slots = itertools.count()
    return [Chunk(kind, i, steps, None if kind == "d" else next(slots))
            for kind, i, steps in found]


def _run_chunk(progs: Programs, chunk: Chunk, carry: dict, key, hps, data: dict) -> dict:
    """``carry`` after one chunk: the runs' keys and state, and the chunk's point in the
    curve."""
    oracle, corpus = data["oracle"], {"train": data["train"], "test": data["test"]}
    index = np.int32(chunk.block)  # traced, as make_train's scan index: one program for all
    point = None
    if chunk.kind == "start":
        keys, state, point = progs.start(key, hps, oracle, corpus)
        carry = {**carry, "keys": keys, "state": state}
    elif chunk.kind == "pre":
        carry["state"], point = progs.pre(carry["keys"], carry["state"], index, hps, oracle,
                                          corpus)
    elif chunk.kind == "d":
        carry["state"] = progs.d(carry["keys"], carry["state"], hps, corpus)
    elif chunk.kind == "adv":
        carry["state"], point = progs.adv(carry["keys"], carry["state"], index, hps, oracle,
                                          corpus)
    else:
        point = progs.end(carry["keys"], carry["state"], oracle, corpus)
    carry = jax.block_until_ready(carry)
    if point is not None:
        carry["curve"] = carry["curve"].copy()
        carry["curve"][:, chunk.slot] = np.asarray(point)
    return carry


def train_task(task: Task, data: dict[str, Any], study: Study, root: Path,
               progress=None) -> list[dict[str, Any]]:
    """Train every run of a sequence task at once, chunk by chunk (:func:`chunks`), write its
    rows and samples; returns the rows. Rows already complete (written before a kill) are kept,
    not retrained; after each chunk the runs' keys, state and curve so far are
    checkpointed (``groups/<task_id>/checkpoints``, which the engine deletes once the task is
    done), and an interrupted task resumes from its last chunk: a run is a pure function of
    its seed, and its chunks carry its RNG keys, so the rows equal an uninterrupted run's."""
    profile = study.config
    sched = schedule(profile)
    adv = adversarial(task.runs[0].model)
    pts = points(sched, adv)
    steps = [x[0] for x in pts]
    gdir = root / "groups" / task.task_id
    rows_path = gdir / "rows.jsonl"
    rows = read_rows(rows_path)
    if _complete(rows, task, steps):
        if progress is not None:
            progress.skip_rest()
        return rows
    n = len(task.runs)
    hps = {k: jnp.asarray([run.hp.get(RUN_HPARAMS.get(k), v) for run in task.runs], jnp.float32)
           for k, v in sg.HPARAMS.items()}
    key = jnp.stack([jax.random.PRNGKey(run.seed) for run in task.runs])
    plan, progs = chunks(sched, adv), programs(sched)
    slot_of = {(CURVES[c.kind], c.block): c.slot for c in plan if c.slot is not None}
    blank = {"chunk": np.asarray(0, np.int32), "seconds": np.asarray(0.0),
             "curve": np.full((n, len(slot_of), 2), np.nan, np.float32)}
    ckpts = TaskCheckpoints(gdir / CHECKPOINTS)
    try:
        done = ckpts.latest_step() or 0
        carry = blank
        if done:
            carry = ckpts.restore(done, like=_like(progs, key, hps, data, blank))
            carry = {**carry, "curve": np.array(carry["curve"]),
                     "seconds": float(carry["seconds"])}
            log.info("%s: resumed after chunk %d of %d", task.task_id, done, len(plan))
            if progress is not None:
                progress.skipped(n * sum(c.steps for c in plan[:done]), 0)
        for k in range(done, len(plan)):
            started = time.perf_counter()
            carry = _run_chunk(progs, plan[k], carry, key, hps, data)
            carry["seconds"] = float(carry["seconds"]) + time.perf_counter() - started
            carry["chunk"] = np.asarray(k + 1, np.int32)
            ckpts.save(k + 1, {**carry, "seconds": np.asarray(carry["seconds"])})
            if progress is not None:  # the bar counts MLE epochs and adversarial batches
                progress.trained(n * plan[k].steps)  # its evaluations' time included
    finally:
        ckpts.close()
    seconds, state = carry["seconds"], carry["state"]
    rows = []
    for i, run in enumerate(task.runs):
        failed_step = None
        for step, phase, curve, j in pts:
            values = carry["curve"][i, slot_of[(curve, j)]]
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
                         "train_seconds": seconds / n})
    _write_samples(task, state.g, sched, root, steps[-1], data["oracle_name"])
    write_rows(rows_path, rows)
    return rows


def _like(progs: Programs, key, hps, data: dict, blank: dict) -> dict:
    """The checkpoint's structure, shapes and dtypes (zeros), for orbax to restore into."""
    shapes = jax.eval_shape(progs.start, key, hps, data["oracle"],
                            {"train": data["train"], "test": data["test"]})
    keys, state, _ = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), shapes)
    return {**blank, "keys": keys, "state": state}


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
