"""One training step of one run, and a segment of steps of many runs in one program.

One step (docs/protocol.md §4.2) is one minibatch (images, and labels where the model needs
them) and the updates of the run's model family (:mod:`benchmark.training.families`); this
module alone decides how "G step or not" is compiled (:func:`train_step`). Runs that share
a :class:`Structure` are trained together: the step is ``jax.vmap``-ed over runs (per-run
seeds and continuous hyperparameters as arrays) and ``lax.scan``-ned over steps inside one
``jax.jit``, so there is one compilation per structure. The step index is shared by all runs,
so "new epoch?" and "G step?" are real branches (``lax.cond`` with an unbatched predicate),
not both computed and selected.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.training.base import INIT, SHUFFLE, Batch, Family, RunState, Structure
from benchmark.training.families import family


def _split_variables(variables: Mapping[str, Any]) -> tuple[dict, dict]:
    return dict(variables["params"]), dict(variables.get("batch_stats", {}))


def init_run(structure: Structure, num_train: int, seed: jax.Array) -> RunState:
    """A fresh run from its seed: network initialisation, optimiser states, loss state."""
    key = jax.random.PRNGKey(seed)
    k_g, k_d = jax.random.split(jax.random.fold_in(key, INIT))
    x = jnp.zeros((2, *structure.image_shape), jnp.float32)
    z = jnp.zeros((2, structure.z_dim), jnp.float32)
    # a conditional architecture's networks take the labels (models.registry.Architecture)
    cond = {"labels": jnp.zeros((2,), jnp.int32)} if structure.architecture.conditional else {}
    trains = family(structure)
    g_params, g_stats = _split_variables(
        trains.generator(structure).init(k_g, z, train=True, **cond))
    d_params, d_stats = _split_variables(
        trains.discriminator(structure).init(k_d, x, train=True, **cond))
    params = {"generator": g_params, "discriminator": d_params}
    opt_state, extra = trains.init_optimizer(structure, params)
    return RunState(
        key=key,
        params=params,
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state=opt_state,
        extra=extra,
        perm=jnp.zeros((num_train,), jnp.int32),
        failed_step=jnp.full((), -1, jnp.int32),
        failed_value=jnp.full((), -1, jnp.int32),
    )


def init_runs(structure: Structure, num_train: int, seeds: np.ndarray) -> RunState:
    """Fresh states for several runs, stacked along a leading runs axis."""
    fn = jax.jit(jax.vmap(functools.partial(init_run, structure, num_train)))
    return fn(jnp.asarray(seeds, jnp.uint32))


def minibatch(state: RunState, data: jax.Array, scale: float, t: jax.Array, batch_size: int,
              labels: jax.Array | None = None) -> tuple[Batch, jax.Array]:
    """This step's minibatch (images, and the labels drawn with the same permutation where
    ``labels`` is given) and the epoch's permutation: the train split reshuffled at every
    epoch, on the device.

    An epoch is ``num_train // batch_size`` batches of a fresh permutation (the remainder is
    dropped; docs/protocol.md §4.4, our choice).
    """
    num_train = data.shape[0]
    steps_per_epoch = num_train // batch_size
    epoch, pos = t // steps_per_epoch, t % steps_per_epoch
    shuffle_key = jax.random.fold_in(jax.random.fold_in(state.key, SHUFFLE), epoch)
    perm = jax.lax.cond(
        pos == 0,
        lambda: jax.random.permutation(shuffle_key, num_train).astype(jnp.int32),
        lambda: state.perm,
    )
    idx = jax.lax.dynamic_slice(perm, (pos * batch_size,), (batch_size,))
    x = jnp.take(data, idx, axis=0).astype(jnp.float32) * scale
    y = None if labels is None else jnp.take(labels, idx, axis=0).astype(jnp.int32)
    return Batch(x, y), perm


def _generator_update(trains: Family, structure: Structure, state: RunState, hp, batch: Batch,
                      t, carry, branch: bool, g_step: bool | None):
    """The family's G update where step ``t`` has one; its metrics are NaN elsewhere. The one
    place that decides how "G step or not" is compiled (see :func:`train_step`)."""

    def update(s):
        return trains.generator_update(structure, s, hp, batch, t, carry)

    def skip(s):
        shapes = jax.eval_shape(update, s)[1]
        return s, {k: jnp.full(v.shape, jnp.nan, v.dtype) for k, v in shapes.items()}

    if structure.n_disc == 1 or g_step is True:
        return update(state)
    if g_step is False:
        return skip(state)
    if branch:
        return jax.lax.cond(structure.is_generator_step(t), update, skip, state)
    # compute the G update on every step and keep it on G steps only (leaves the G update
    # does not touch are the same arrays, and are kept without a select)
    updated, metrics = update(state)
    is_g_step = structure.is_generator_step(t)
    new = jax.tree.map(lambda a, b: a if a is b else jnp.where(is_g_step, a, b), updated, state)
    return new, {k: jnp.where(is_g_step, v, jnp.nan) for k, v in metrics.items()}


def family_step(structure: Structure, state: RunState, hp, batch: Batch, t,
                branch: bool = True, g_step: bool | None = None):
    """One step of the run's family on ``batch``: its ``update``, its ``generator_update`` on
    G steps (compiled as ``branch``/``g_step`` say, :func:`train_step`), its ``after_step``.
    Returns the new state and the step's logged scalars."""
    trains = family(structure)
    new_state, metrics, carry = trains.update(structure, state, hp, batch, t)
    if trains.generator_update is not None:
        new_state, g_metrics = _generator_update(trains, structure, new_state, hp, batch, t,
                                                 carry, branch, g_step)
        metrics = {**metrics, **g_metrics}
    if trains.after_step is not None:
        new_state, metrics = trains.after_step(structure, new_state, hp, batch, t, carry,
                                               metrics)
    return new_state, metrics


def train_step(
    structure: Structure,
    state: RunState,
    hp,
    data,
    scale: float,
    t,
    branch: bool = True,
    g_step: bool | None = None,
    labels: jax.Array | None = None,
):
    """One step of one run. A run whose losses stop being finite is frozen and marked failed.

    The minibatch (and what the family's ``draw`` adds), then :func:`family_step`; ``labels``
    (the train split's, on the device) are drawn beside the images.

    ``branch`` chooses how "G step or not" (n_disc > 1) is compiled: a real ``lax.cond``, or
    the G update computed on every step and kept only on G steps. Both give the same run; the second
    is faster on XLA's CPU backend, where a convolution inside a conditional runs slower than
    outside one (measured: docs/speed.md). ``g_step`` True/False instead fixes the answer at trace
    time (the caller knows the G schedule): no branch and no wasted G update, at the cost of one
    more program per structure; the CPU plan (:mod:`benchmark.training.plan`) picks this, asking
    :meth:`Structure.is_generator_step` on the host.
    """
    batch, perm = minibatch(state, data, scale, t, structure.batch_size, labels)
    state = state.replace(perm=perm)
    draw = family(structure).draw
    if draw is not None:  # e.g. the semi-supervised family's labelled batch
        state, batch = draw(structure, state, batch, data, scale, labels, t)
    new_state, metrics = family_step(structure, state, hp, batch, t, branch, g_step)
    # Which logged values are finite, in sorted name order (RunState.failed_value indexes it).
    ok = {k: jnp.all(jnp.isfinite(v)) for k, v in metrics.items()}
    if "g_loss" in metrics:  # a NaN g_loss means "no G step" only on steps without a G update
        is_g_step = structure.is_generator_step(t) if g_step is None else jnp.asarray(g_step)
        ok["g_loss"] = ok["g_loss"] | ~is_g_step
    ok = jnp.stack([ok[k] for k in sorted(ok)])
    finite = jnp.all(ok)
    healthy = (state.failed_step < 0) & finite
    # Keep the new state only if healthy: a branch, not a select of every leaf. Vmapped over
    # runs (a per-run predicate) it becomes that select; for one run on XLA's CPU backend a
    # select reads both states and copies its results into the donated buffers: 10 more passes
    # over the 6.4M-element matrices per NS GAN step than the branch (9% of the step's time).
    new_state = jax.lax.cond(healthy, lambda: new_state, lambda: state)
    newly_failed = (state.failed_step < 0) & ~finite
    failed_step = jnp.where(newly_failed, t, state.failed_step)
    failed_value = jnp.where(newly_failed, jnp.argmin(ok).astype(jnp.int32), state.failed_value)
    # A frozen run logs nothing after the step it failed at (that step's losses are kept).
    metrics = {k: jnp.where(state.failed_step < 0, v, jnp.nan) for k, v in metrics.items()}
    return new_state.replace(failed_step=failed_step, failed_value=failed_value,
                             perm=perm), metrics


@functools.partial(jax.jit,
                   static_argnames=("structure", "scale", "num_steps", "branch", "unroll",
                                    "g_steps"),
                   donate_argnums=(0,))
def train_segment(
    states: RunState,
    hps: Mapping[str, jax.Array],
    data: jax.Array,
    start: jax.Array,
    *,
    structure: Structure,
    scale: float,
    num_steps: int,
    branch: bool = True,
    unroll: int | bool = 1,
    g_steps: tuple[bool, ...] | None = None,
    labels: jax.Array | None = None,
) -> tuple[RunState, dict[str, jax.Array]]:
    """``num_steps`` steps of every run, from step ``start``; metrics come back as [steps, runs].
    ``labels``: the train split's labels beside ``data`` (None: without labels).

    ``g_steps`` (with ``unroll=True`` only): for each step, whether it updates G, as
    ``structure.is_generator_step(start + i)`` is known to the caller; None decides on the
    device with the same function.
    """
    if g_steps is not None and (unroll is not True or len(g_steps) != num_steps):
        raise ValueError("g_steps needs unroll=True and one entry per step")

    def body(states, t, g_step=None):
        step = functools.partial(train_step, structure, branch=branch, g_step=g_step,
                                 labels=labels)
        if states.failed_step.shape[0] == 1:
            # One run (the CPU plan's case): step the run itself rather than vmap over a size-1
            # axis. Same math, but under vmap XLA's CPU backend computes the dense layers'
            # weight gradients transposed, and each Adam fusion reading one re-transposes a
            # 6.4M-element matrix (measured: docs/speed.md).
            run = jax.tree.map(lambda a: a[0], (states, hps))
            return jax.tree.map(lambda a: a[None], step(*run, data, scale, t))
        return jax.vmap(step, in_axes=(0, 0, None, None, None))(states, hps, data, scale, t)

    steps = start + jnp.arange(num_steps, dtype=jnp.int32)
    if unroll is True:  # straight-line code: even a one-trip scan is a slow loop on XLA CPU
        outputs = []
        for i in range(num_steps):
            states, metrics = body(states, steps[i], None if g_steps is None else g_steps[i])
            outputs.append(metrics)
        return states, jax.tree.map(lambda *m: jnp.stack(m), *outputs)
    return jax.lax.scan(body, states, steps, unroll=unroll)
