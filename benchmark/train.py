"""Training many runs at once: a run is a pure function of (seed, hyperparameters, structure).

One training step (PROTOCOL, Training) is one minibatch and one D update; G is updated on the
steps ``t`` with ``t % n_disc == 0``. Runs that share a :class:`Structure` (model, data shape,
n_disc, D batch norm, static loss options) are trained together: the step is ``jax.vmap``-ed
over runs (per-run seeds and continuous hyperparameters as arrays) and ``lax.scan``-ned over
steps inside one ``jax.jit``, so there is one compilation per structure. The step index is the
scan's input and is shared by all runs, so "new epoch?" and "G step?" are real branches
(``lax.cond`` with an unbatched predicate), not both computed and selected.

Randomness comes only from each run's key: step ``t`` uses ``fold_in(fold_in(key, STEPS), t)``
and epoch ``e``'s shuffle ``fold_in(fold_in(key, SHUFFLE), e)``, so a run resumed from a
checkpoint replays exactly the same stream.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import losses as loss_registry
import models
import models.layers
from losses.base import GanLoss, Loss, VaeLoss

# Streams folded into a run's key.
INIT, STEPS, SHUFFLE = 0, 1, 2
ADAM_B2, ADAM_EPS = 0.999, 1e-8  # PROTOCOL, Training


@dataclasses.dataclass(frozen=True)
class Structure:
    """Everything that changes the compiled program (hashable: a ``jit`` static argument)."""

    model: str
    image_shape: tuple[int, int, int]
    n_disc: int = 1
    disc_bn: bool = True
    options: tuple[tuple[str, str], ...] = ()
    batch_size: int = 64
    z_dim: int = models.Z_DIM

    @property
    def loss(self) -> Loss:
        return loss_registry.get(self.model, dict(self.options))

    @property
    def generator(self) -> nn.Module:
        activation = "relu" if isinstance(self.loss, VaeLoss) else "lrelu"
        return models.make_generator(self.image_shape, activation)

    @property
    def discriminator(self) -> nn.Module:
        """D for the GANs; the encoder for the VAE (it sits where D sits in the state)."""
        loss = self.loss
        if isinstance(loss, VaeLoss):
            return models.Encoder(self.z_dim)
        return models.make_discriminator(loss.architecture, self.image_shape, self.disc_bn)


@flax.struct.dataclass
class RunState:
    """The whole state of one run (a pytree; stacked along a leading runs axis when batched)."""

    key: jax.Array  # uint32[2], the run's root key
    params: dict  # {"generator": ..., "discriminator": ...}
    batch_stats: dict  # same keys; empty dicts where a network has no batch norm
    opt_state: dict  # {"generator", "discriminator"} for GANs, {"joint"} for the VAE
    extra: dict  # per-loss state, e.g. BEGAN's k
    perm: jax.Array  # int32[num_train], the current epoch's order of the train split
    failed_step: jax.Array  # int32; -1 while healthy, else the first step that was not finite


def _adam(hp: Mapping[str, jax.Array]) -> optax.GradientTransformation:
    """Adam(lr, beta1, 0.999, 1e-8) with this run's (traced) lr and beta1; no decay."""
    return optax.adam(hp["lr"], b1=hp["beta1"], b2=ADAM_B2, eps=ADAM_EPS)


def sample_latent(key: jax.Array, shape: tuple[int, ...], prior: str) -> jax.Array:
    """z ~ U(-1, 1) for the GANs, N(0, I) for the VAE (PROTOCOL, Architecture)."""
    if prior == "uniform":
        return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
    return jax.random.normal(key, shape)


def _split_variables(variables: Mapping[str, Any]) -> tuple[dict, dict]:
    return dict(variables["params"]), dict(variables.get("batch_stats", {}))


def init_run(structure: Structure, num_train: int, seed: jax.Array) -> RunState:
    """A fresh run from its seed: network initialisation, optimiser states, loss state."""
    key = jax.random.PRNGKey(seed)
    k_g, k_d = jax.random.split(jax.random.fold_in(key, INIT))
    x = jnp.zeros((2, *structure.image_shape), jnp.float32)
    z = jnp.zeros((2, structure.z_dim), jnp.float32)
    g_params, g_stats = _split_variables(structure.generator.init(k_g, z, train=True))
    d_params, d_stats = _split_variables(structure.discriminator.init(k_d, x, train=True))
    params = {"generator": g_params, "discriminator": d_params}
    adam_structure = optax.adam(1.0)  # the state's structure does not depend on lr or beta1
    loss = structure.loss
    if isinstance(loss, VaeLoss):
        opt_state, extra = {"joint": adam_structure.init(params)}, {}
    else:
        opt_state = {name: adam_structure.init(p) for name, p in params.items()}
        extra = loss.init_extra()
    return RunState(
        key=key,
        params=params,
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state=opt_state,
        extra=extra,
        perm=jnp.zeros((num_train,), jnp.int32),
        failed_step=jnp.full((), -1, jnp.int32),
    )


def init_runs(structure: Structure, num_train: int, seeds: np.ndarray) -> RunState:
    """Fresh states for several runs, stacked along a leading runs axis."""
    fn = jax.jit(jax.vmap(functools.partial(init_run, structure, num_train)))
    return fn(jnp.asarray(seeds, jnp.uint32))


def _apply(module: nn.Module, params, stats, *args, **kwargs):
    """Apply in training mode, returning the output and the updated batch statistics."""
    out, updates = module.apply(
        {"params": params, "batch_stats": stats}, *args, train=True, mutable=["batch_stats"],
        **kwargs,
    )
    return out, dict(updates.get("batch_stats", {}))


def _batch(state: RunState, data: jax.Array, scale: float, t: jax.Array, batch_size: int):
    """This step's minibatch: the train split reshuffled at every epoch, on the device.

    An epoch is ``num_train // batch_size`` batches of a fresh permutation (the remainder is
    dropped; our choice, documented in the README).
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
    return x, perm


def _gan_step(structure: Structure, loss: GanLoss, state: RunState, hp, x, t, branch, g_step):
    G, D = structure.generator, structure.discriminator
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, k_penalty, k_zg = jax.random.split(key, 3)
    shape = (structure.batch_size, structure.z_dim)
    g_params, d_params = state.params["generator"], state.params["discriminator"]
    g_stats, d_stats = state.batch_stats["generator"], state.batch_stats["discriminator"]
    tx = _adam(hp)

    # D update: D is applied separately to the real and the fake batch (PROTOCOL).
    z = sample_latent(k_z, shape, loss.latent)
    fake, g_stats = _apply(G, g_params, g_stats, z)
    fake = jax.lax.stop_gradient(fake)

    def d_objective(dp):
        d_real, stats = _apply(D, dp, d_stats, x)
        d_fake, stats = _apply(D, dp, stats, fake)
        value = loss.discriminator_loss(d_real, d_fake, hp, state.extra)
        penalty = jnp.zeros(())
        if loss.penalty is not None:
            penalty = loss.penalty(lambda v: _apply(D, dp, d_stats, v)[0], x, fake, k_penalty, hp)
        return value + penalty, (stats, d_real, d_fake, penalty)

    (d_loss, (d_stats, d_real, d_fake, penalty)), grads = jax.value_and_grad(
        d_objective, has_aux=True
    )(d_params)
    updates, d_opt = tx.update(grads, state.opt_state["discriminator"], d_params)
    d_params = optax.apply_updates(d_params, updates)
    if loss.after_discriminator_update is not None:
        d_params = loss.after_discriminator_update(d_params, hp)

    # G update every n_disc steps, against the updated D (its batch statistics are not kept).
    def g_update(operand):
        g_params, g_stats, g_opt = operand
        z_g = sample_latent(k_zg, shape, loss.latent) if loss.fresh_z_for_generator else z

        def g_objective(gp):
            images, stats = _apply(G, gp, g_stats, z_g)
            d_out, _ = _apply(D, d_params, d_stats, images)
            return loss.generator_loss(d_out, hp, state.extra), stats

        (g_loss, g_stats), grads = jax.value_and_grad(g_objective, has_aux=True)(g_params)
        updates, g_opt = tx.update(grads, g_opt, g_params)
        return (optax.apply_updates(g_params, updates), g_stats, g_opt), g_loss

    def no_g_update(operand):
        return operand, jnp.full((), jnp.nan)

    g_operand = (g_params, g_stats, state.opt_state["generator"])
    if structure.n_disc == 1 or g_step is True:
        (g_params, g_stats, g_opt), g_loss = g_update(g_operand)
    elif g_step is False:
        (g_params, g_stats, g_opt), g_loss = no_g_update(g_operand)
    elif branch:
        (g_params, g_stats, g_opt), g_loss = jax.lax.cond(
            t % structure.n_disc == 0, g_update, no_g_update, g_operand
        )
    else:  # compute the G update on every step and keep it on G steps only (see train_step)
        updated, g_loss = g_update(g_operand)
        is_g_step = t % structure.n_disc == 0
        (g_params, g_stats, g_opt) = jax.tree.map(
            lambda new, old: jnp.where(is_g_step, new, old), updated, g_operand
        )
        g_loss = jnp.where(is_g_step, g_loss, jnp.nan)

    metrics = {"d_loss": d_loss, "g_loss": g_loss}
    if loss.penalty is not None:
        metrics["penalty"] = penalty
    if loss.log_metrics is not None:
        metrics.update(loss.log_metrics(state.extra, d_real, d_fake, hp))
    extra = state.extra
    if loss.update_extra is not None:
        extra = loss.update_extra(extra, d_real, d_fake, hp)
    new_state = state.replace(
        params={"generator": g_params, "discriminator": d_params},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={"generator": g_opt, "discriminator": d_opt},
        extra=extra,
    )
    return new_state, metrics


def _vae_step(structure: Structure, loss: VaeLoss, state: RunState, hp, x, t, branch, g_step):
    G, E = structure.generator, structure.discriminator
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)

    def objective(params):
        (mu, sigma), e_stats = _apply(E, params["discriminator"],
                                      state.batch_stats["discriminator"], x)
        z = mu + sigma * jax.random.normal(key, mu.shape)
        logits, g_stats = _apply(G, params["generator"], state.batch_stats["generator"], z,
                                 logits=True)
        value, parts = loss.negative_elbo(logits, x, mu, sigma)
        return value, ({"generator": g_stats, "discriminator": e_stats}, parts)

    (value, (stats, parts)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    updates, opt = _adam(hp).update(grads, state.opt_state["joint"], state.params)
    new_state = state.replace(
        params=optax.apply_updates(state.params, updates),
        batch_stats=stats,
        opt_state={"joint": opt},
    )
    return new_state, {"loss": value, **parts}


def train_step(
    structure: Structure,
    state: RunState,
    hp,
    data,
    scale: float,
    t,
    branch: bool = True,
    g_step: bool | None = None,
):
    """One step of one run. A run whose losses stop being finite is frozen and marked failed.

    ``branch`` chooses how "G step or not" (n_disc > 1) is compiled: a real ``lax.cond``, or
    the G update computed on every step and kept only on G steps. Both give the same run; the
    second is faster on XLA's CPU backend, where a convolution inside a conditional runs about
    3x slower than outside one (measured). ``g_step`` True/False instead fixes the answer at
    trace time (the caller knows ``t % n_disc``): no branch and no wasted G update, at the
    cost of one more program per structure; :func:`default_plan` picks this on CPU.
    """
    x, perm = _batch(state, data, scale, t, structure.batch_size)
    state = state.replace(perm=perm)
    loss = structure.loss
    step = _vae_step if isinstance(loss, VaeLoss) else _gan_step
    new_state, metrics = step(structure, loss, state, hp, x, t, branch, g_step)
    finite = jnp.all(jnp.stack([jnp.isfinite(v) for k, v in metrics.items() if k != "g_loss"]))
    if "g_loss" in metrics:  # a NaN g_loss means "no G step" only on steps without a G update
        is_g_step = t % structure.n_disc == 0 if g_step is None else jnp.asarray(g_step)
        finite &= jnp.isfinite(metrics["g_loss"]) | ~is_g_step
    healthy = (state.failed_step < 0) & finite
    new_state = jax.tree.map(lambda n, o: jnp.where(healthy, n, o), new_state, state)
    failed_step = jnp.where((state.failed_step < 0) & ~finite, t, state.failed_step)
    # A frozen run logs nothing after the step it failed at (that step's losses are kept).
    metrics = {k: jnp.where(state.failed_step < 0, v, jnp.nan) for k, v in metrics.items()}
    return new_state.replace(failed_step=failed_step, perm=perm), metrics


@dataclasses.dataclass(frozen=True)
class Plan:
    """How steps are compiled on this backend: ``chunk`` steps per call, scan ``unroll``,
    whether "G step or not" is a real branch, and whether the host decides it instead
    (``static_g``: only with ``unroll=True``; see :func:`train_step`)."""

    chunk: int
    unroll: int | bool
    branch: bool
    static_g: bool = False
    split_runs: bool = False  # one call per run instead of one vmapped call (CPU; see below)


def default_plan(backend: str | None = None) -> Plan:
    """On accelerators: long ``lax.scan`` segments with real branches. On XLA's CPU backend a
    loop body runs about 8x slower than the same code outside a loop (measured: 5.2 s vs
    0.64 s per NS GAN step), so there a host loop calls one step at a time, and for
    n_disc > 1 the host picks the program with or without the G update. Vmapped
    convolutions become grouped convolutions, which XLA's CPU backend runs slower per run than
    one run at a time (measured: 1.5 vs 2.0 run-steps/s for 3 NS GAN runs, ``make bench``), so
    on CPU the host also calls the same one-run program once per run."""
    backend = backend or jax.default_backend()
    if backend == "cpu":
        return Plan(chunk=1, unroll=True, branch=False, static_g=True, split_runs=True)
    return Plan(chunk=500, unroll=1, branch=True)


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
) -> tuple[RunState, dict[str, jax.Array]]:
    """``num_steps`` steps of every run, from step ``start``; metrics come back as [steps, runs].

    ``g_steps`` (with ``unroll=True`` only): for each step, whether it updates G, as
    ``(start + i) % n_disc == 0`` is known to the caller; None decides on the device.
    """
    if g_steps is not None and (unroll is not True or len(g_steps) != num_steps):
        raise ValueError("g_steps needs unroll=True and one entry per step")

    def body(states, t, g_step=None):
        step = jax.vmap(functools.partial(train_step, structure, branch=branch, g_step=g_step),
                        in_axes=(0, 0, None, None, None))
        return step(states, hps, data, scale, t)

    steps = start + jnp.arange(num_steps, dtype=jnp.int32)
    if unroll is True:  # straight-line code: even a one-trip scan is a slow loop on XLA CPU
        outputs = []
        for i in range(num_steps):
            states, metrics = body(states, steps[i], None if g_steps is None else g_steps[i])
            outputs.append(metrics)
        return states, jax.tree.map(lambda *m: jnp.stack(m), *outputs)
    return jax.lax.scan(body, states, steps, unroll=unroll)


def generator_apply(structure: Structure):
    """``apply_fn(variables, z) -> images`` of one run's G in inference mode (metrics use it).

    The same function object for every structure with the same G, so the metrics' jitted
    programs (static in ``apply_fn``) compile once for all the GANs of a data set.
    """
    return _generator_apply(structure.generator)


@functools.cache
def _generator_apply(G: nn.Module):
    def apply_fn(variables, z):
        return G.apply(variables, z, train=False)

    return apply_fn


def generator_variables(states: RunState) -> dict:
    """The batched G variables {"params", "batch_stats"} of a group of runs."""
    return {"params": states.params["generator"],
            "batch_stats": states.batch_stats["generator"]}


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """How many times G's batch-norm running averages were updated in ``steps`` steps: once
    per D step (G runs in training mode to make the fakes) and once more per G step."""
    if isinstance(structure.loss, VaeLoss):
        return steps
    return steps + -(-steps // structure.n_disc)


def debias_generator_stats(states: RunState, updates: int) -> RunState:
    """G's running averages zero-debiased after ``updates`` EMA updates (as Adam debiases its
    moments): mean / (1 - d^n), (var - d^n) / (1 - d^n) for flax's initial mean 0, var 1.

    Used by short profiles only: after 50 updates at decay 0.999 the raw averages are still
    95% their initial values and every model's inference-mode samples are uniform grey
    (measured); after PROTOCOL's thousands of steps the correction is below 1%.
    """
    w = models.layers.BN_DECAY ** updates
    if updates <= 0 or w == 0.0:
        return states

    def fix(path, x):
        name = getattr(path[-1], "key", None)
        if name == "mean":
            return x / (1.0 - w)
        if name == "var":
            return jnp.maximum((x - w) / (1.0 - w), 0.0)
        return x

    stats = dict(states.batch_stats)
    stats["generator"] = jax.tree_util.tree_map_with_path(fix, stats["generator"])
    return states.replace(batch_stats=stats)


@functools.partial(jax.jit, static_argnames=("structure",))
def generate(states: RunState, z: jax.Array, *, structure: Structure) -> jax.Array:
    """Samples [runs, n, h, w, c] of every run's G (inference mode) on the same latents z."""
    apply_fn = generator_apply(structure)
    return jax.vmap(apply_fn, in_axes=(0, None))(generator_variables(states), z)


@jax.jit
def parameters_finite(states: RunState) -> jax.Array:
    """bool[runs]: every parameter of the run is finite."""
    leaves = jax.tree.leaves(states.params)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)
                              for x in leaves]), axis=0)
