"""How steps are compiled on this backend, hidden behind one :class:`Trainer`.

On accelerators: long ``lax.scan`` segments of every run vmapped together, with real branches. On
XLA's CPU backend a loop body runs several times slower than the same code outside a loop, so there
the host calls one step at a time, and for n_disc > 1 picks the program with or without the G
update. Vmapped convolutions become grouped convolutions, which XLA's CPU backend runs slower per
run than one run at a time, so on CPU the host also calls the same one-run program once per run
(both measured: docs/speed.md). The engine sees none of this: it asks the trainer to advance a task
of runs from one step to another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.training.base import RunState, Structure, matmul_precision
from benchmark.training.step import init_runs, train_segment


@dataclasses.dataclass(frozen=True)
class Plan:
    """``chunk`` steps per call, scan ``unroll``, whether "G step or not" is a real branch,
    whether the host decides it instead (``static_g``: only with ``unroll=True``; see
    :func:`benchmark.training.step.train_step`), and whether each run gets its own call."""

    chunk: int
    unroll: int | bool
    branch: bool
    static_g: bool = False
    split_runs: bool = False

    def g_steps(self, structure: Structure, start: int, num_steps: int
                ) -> tuple[bool, ...] | None:
        """For a segment of ``num_steps`` steps from ``start``: whether each step updates G,
        where the host decides it (``static_g`` and n_disc > 1); None where the device does
        (``train_segment``'s ``g_steps``)."""
        if not (self.static_g and structure.n_disc > 1):
            return None
        return tuple(bool(structure.is_generator_step(start + i)) for i in range(num_steps))


def default_plan(backend: str | None = None) -> Plan:
    """The plan of ``backend`` (default: JAX's default backend); see the module docstring."""
    backend = backend or jax.default_backend()
    if backend == "cpu":
        return Plan(chunk=1, unroll=True, branch=False, static_g=True, split_runs=True)
    return Plan(chunk=500, unroll=1, branch=True)


def segment_length(interval: int, chunk: int) -> int:
    """The largest divisor of ``interval`` not above ``chunk``: every segment of an evaluation
    interval has the same length, so one interval length costs one compilation."""
    for c in range(min(chunk, interval), 0, -1):
        if interval % c == 0:
            return c
    return 1


class LossMeans:
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


@dataclasses.dataclass
class Trainer:
    """Trains the runs of one structure under a :class:`Plan` (default: the backend's), with
    matrix products and convolutions at ``precision`` ("float32" or "tf32",
    :func:`benchmark.training.base.matmul_precision`)."""

    structure: Structure
    plan: Plan = dataclasses.field(default_factory=default_plan)
    precision: str = "float32"

    def advance(
        self,
        states: RunState,
        hps: Mapping[str, jax.Array],
        data: jax.Array,
        scale: float,
        start: int,
        stop: int,
        on_segment: Callable[[int], None] | None = None,
        labels: jax.Array | None = None,
    ) -> tuple[RunState, dict[str, np.ndarray]]:
        """Train every run (leading axis of ``states`` and ``hps``) from step ``start`` to
        ``stop`` on the device-resident ``data`` (stored integers times ``scale``) and, where
        given, its ``labels`` (drawn with the same permutation).

        Returns the new states and each logged loss's per-run mean over the steps;
        ``on_segment(steps)`` is called after each compiled segment.
        """
        plan, structure = self.plan, self.structure
        runs = jax.tree.leaves(states)[0].shape[0]
        parts = _split(states, runs) if plan.split_runs else [states]
        hp_parts = _split(hps, runs) if plan.split_runs else [hps]
        means = LossMeans()
        seg = segment_length(stop - start, plan.chunk)
        t = start
        while t < stop:
            g_steps = plan.g_steps(structure, t, seg)
            outputs = []
            for i, part in enumerate(parts):
                with matmul_precision(self.precision):
                    parts[i], metrics = train_segment(
                        part, hp_parts[i], data, jnp.int32(t), structure=structure,
                        scale=float(scale), num_steps=seg, branch=plan.branch,
                        unroll=plan.unroll, g_steps=g_steps, labels=labels,
                    )
                outputs.append(metrics)
            means.add(_concat(outputs, axis=1))
            t += seg
            if on_segment is not None:
                on_segment(seg)
        return _concat(parts, axis=0), means.means()


def train(
    structure: Structure,
    hparams: Mapping[str, Any],
    data: jax.Array,
    seeds: Any,
    steps: int,
    *,
    scale: float,
    labels: jax.Array | None = None,
    plan: Plan | None = None,
    precision: str = "float32",
) -> tuple[RunState, dict[str, np.ndarray]]:
    """Train ``len(seeds)`` runs of ``structure`` from scratch for ``steps`` steps: a pure
    function of its arguments, without the engine (the purejaxrl manner).

    ``hparams``: each continuous hyperparameter (lr, beta1 and the model's own, as
    ``RunSpec.hp``) as one value per run [R] (or a scalar for all runs); ``data``: the train
    split as stored integers [N, h, w, c] (uint8 on the device), ``scale`` mapping them to
    [0, 1]; ``labels``: its int labels [N] where the model needs them; ``plan``: how steps
    are compiled (default: the backend's, :func:`default_plan`). Returns the final states
    (stacked along a leading runs axis) and each logged scalar's per-run mean over the steps
    ({name: float array [R]}; NaN entries, e.g. g_loss on steps without a G update, skipped).
    """
    seeds = np.asarray(seeds, np.uint32).reshape(-1)
    runs = seeds.shape[0]
    hps = {k: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (runs,))
           for k, v in sorted(hparams.items())}
    states = init_runs(structure, data.shape[0], seeds)
    trainer = Trainer(structure, plan or default_plan(), precision)
    return trainer.advance(states, hps, data, scale, 0, steps, labels=labels)
