"""Invert a generator: distances from target images to its range (docs/protocol.md §8.2).

Recall needs, for every test triangle x, ``min_z ||G(z) - x||^2`` over z in the prior's support
(docs/protocol.md §8: the paper finds it "by inverting the generator", optimising the latent
code to reconstruct the test image; squared L2 in pixel space). The paper's optimiser
settings are unknown, so ours are explicit:

1. **Screened random restarts.** ``pool_size`` latents are drawn from the prior (a scrambled
   Sobol sequence mapped through the prior, seeded from the key: fewer gaps than i.i.d. draws),
   G is run on all of them once, and each target starts from its ``restarts`` nearest pool
   images. The pool is shared by all targets, so it costs ``pool_size`` forward passes per
   generator instead of ``restarts * steps`` per target, and it finds the right basin of
   generators whose range is disconnected (mode-collapsed or memorising ones), which gradient
   steps from a blind start cannot.
2. **Adam** (lr ``learning_rate``, betas 0.9/0.999) on the latents for ``steps`` steps, after
   every step projected onto the prior's support: [-1, 1]^d for the uniform prior of the GANs,
   [-4, 4]^d for the normal prior of the VAE (which holds all 64 coordinates of a prior draw
   with probability 0.996). Every target and restart is one row of a single jitted, vmapped
   program; batch norm runs in inference mode (the ``apply_fn`` contract). The result is the
   smallest distance seen over all restarts and steps, so it is never worse than the pool.

Defaults and why (measured on 200 test triangles against an NS GAN trained for 1,500 steps,
2 CPU cores; docs/speed.md): ``pool_size = 8192`` (8192 forward passes, about 4 s on 2 cores),
``restarts = 1`` (the pool already screens 8192 random starts; at equal cost, 1 restart x 32
steps reached a median distance of 4.49 against 4.83 for 2 x 16), ``steps = 32``,
``learning_rate = 0.1`` constant (0.1 beat 0.05 and 0.02 at 24 steps; a cosine decay did not
help: 4.68). A 25x longer search (4 restarts x 200 steps) reached a median of 3.58, so at the
defaults recall is a lower bound that can be ~0.2 short near delta for a weak generator;
:data:`THOROUGH_INVERSION` is the longer search for GPUs. 1000 targets x 32 steps is 32,000
gradient evaluations of G, most of the time budget for N = 1000 on 2 CPU cores.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy.stats import qmc

from metrics.triangle_manifold import nearest_in_pool
from models import priors

ApplyFn = Callable[[Any, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class InversionConfig:
    """Optimiser settings for :func:`invert` (module docstring: defaults and why)."""

    pool_size: int = 8192
    restarts: int = 1
    steps: int = 32
    learning_rate: float = 0.1
    cosine_decay: bool = False  # decay the learning rate to 5% of its start by the last step
    batch_size: int = 2048  # target-restart rows per device program (memory bound)


def latent_pool(key: jax.Array, size: int, z_dim: int, prior: str) -> jax.Array:
    """``size`` latents of the prior: scrambled Sobol points (seeded from ``key``) mapped to it."""
    priors.check(prior)
    seed = int(jax.random.randint(key, (), 0, np.iinfo(np.int32).max))
    u = qmc.Sobol(d=z_dim, scramble=True, seed=seed).random(size)
    u = np.clip(u, 1e-6, 1 - 1e-6)  # Sobol points may sit on 0; keep ndtri finite
    if prior == "uniform":
        z = 2.0 * u - 1.0
    else:
        bound = priors.NORMAL_BOUND
        z = np.clip(jax.scipy.special.ndtri(jnp.asarray(u)), -bound, bound)
    return jnp.asarray(z, jnp.float32)


def generate_in_batches(
    apply_fn: ApplyFn, variables: Any, z: jax.Array, batch_size: int = 1024
) -> jax.Array:
    """``apply_fn`` over latents [M, d] in batches (bounded memory): images [M, ...]."""
    return _generate_in_batches(apply_fn, variables, z, batch_size=min(batch_size, z.shape[0]))


@functools.partial(jax.jit, static_argnames=("apply_fn", "batch_size"))
def _generate_in_batches(apply_fn, variables, z, *, batch_size):
    m = z.shape[0]
    pad = (-m) % batch_size
    zp = jnp.concatenate([z, jnp.zeros((pad, z.shape[1]), z.dtype)]).reshape(
        -1, batch_size, z.shape[1]
    )
    images = jax.lax.map(lambda zb: apply_fn(variables, zb), zp)
    return images.reshape(-1, *images.shape[2:])[:m]


def _adam(steps: int, learning_rate: float, cosine_decay: bool) -> optax.GradientTransformation:
    return optax.adam(
        optax.cosine_decay_schedule(learning_rate, steps, alpha=0.05)
        if cosine_decay
        else learning_rate
    )


def _row_distances(apply_fn, variables, targets, z):
    diff = apply_fn(variables, z) - targets
    return jnp.sum(diff.reshape(diff.shape[0], -1) ** 2, axis=1)


@functools.partial(
    jax.jit, static_argnames=("apply_fn", "prior", "steps", "learning_rate", "cosine_decay")
)
def _adam_step(apply_fn, variables, targets, carry, *, prior, steps, learning_rate,
               cosine_decay):
    """One Adam step of every row: the point before it kept where it is the row's best."""
    z, state, best_z, best_d = carry

    def total(z):
        d2 = _row_distances(apply_fn, variables, targets, z)
        return jnp.sum(d2), d2  # rows are independent: grad of the sum is per-row grads

    (_, d2), g = jax.value_and_grad(total, has_aux=True)(z)
    improved = d2 < best_d
    best_z = jnp.where(improved[:, None], z, best_z)
    best_d = jnp.where(improved, d2, best_d)
    updates, state = _adam(steps, learning_rate, cosine_decay).update(g, state, z)
    z = priors.project(optax.apply_updates(z, updates), prior)
    return z, state, best_z, best_d


@functools.partial(jax.jit, static_argnames=("apply_fn",))
def _last_point(apply_fn, variables, targets, z, best_z, best_d):
    d_last = _row_distances(apply_fn, variables, targets, z)  # the point after the last update
    last_better = d_last < best_d
    return jnp.where(last_better[:, None], z, best_z), jnp.where(last_better, d_last, best_d)


def _adam_refine(apply_fn, variables, targets, z0, *, prior, steps, learning_rate, cosine_decay):
    """Adam on rows of latents z0 [B, d] towards targets [B, ...]: (best z, best d2) per row.

    The steps are a host loop over one compiled step, not a ``lax.scan``: on XLA's CPU
    backend a scan around the gradient of LAPGAN's stride-1 7x7 convolutions ran about 10x
    slower than the same step called in a loop (159 s against 16 s for 32 steps of 200 rows;
    NS GAN's G: 3.7 s against 4.0 s; docs/speed.md)."""
    carry = (z0, _adam(steps, learning_rate, cosine_decay).init(z0), z0,
             jnp.full(z0.shape[:1], jnp.inf))
    for _ in range(steps):
        carry = _adam_step(apply_fn, variables, targets, carry, prior=prior, steps=steps,
                           learning_rate=learning_rate, cosine_decay=cosine_decay)
    z, _, best_z, best_d = carry
    return _last_point(apply_fn, variables, targets, z, best_z, best_d)


DEFAULT_INVERSION = InversionConfig()
THOROUGH_INVERSION = InversionConfig(restarts=4, steps=200, learning_rate=0.05)


@dataclasses.dataclass(frozen=True)
class InversionResult:
    """Best latents [N, d], their squared L2 distance [N], and the pool-only distance [N]."""

    z: np.ndarray
    distance: np.ndarray
    pool_distance: np.ndarray


def invert(
    apply_fn: ApplyFn,
    variables: Any,
    targets: np.ndarray | jax.Array,
    *,
    z_dim: int,
    prior: str,
    key: jax.Array,
    config: InversionConfig = DEFAULT_INVERSION,
) -> InversionResult:
    """``min_z ||G(z) - x||^2`` for every target x [N, h, w, c] (module docstring).

    ``apply_fn(variables, z) -> images`` is one generator in inference mode. Deterministic
    given ``key``.
    """
    priors.check(prior)
    targets = jnp.asarray(targets, jnp.float32)
    n = targets.shape[0]
    flat_targets = targets.reshape(n, -1)
    z_pool = latent_pool(key, config.pool_size, z_dim, prior)
    pool_images = generate_in_batches(apply_fn, variables, z_pool)
    if pool_images.shape[1:] != targets.shape[1:]:
        raise ValueError(
            f"the generator makes images of shape {tuple(pool_images.shape[1:])} but the "
            f"targets are {tuple(targets.shape[1:])}; invert a generator of the same data set"
        )
    restarts = min(config.restarts, config.pool_size)
    index, pool_d = nearest_in_pool(
        flat_targets, pool_images.reshape(config.pool_size, -1), k=restarts
    )
    z0 = z_pool[index].reshape(n * restarts, z_dim)
    rows_targets = jnp.repeat(targets, restarts, axis=0)
    if config.steps > 0:
        z_best, d_best = _refine_in_batches(
            apply_fn, variables, rows_targets, z0, prior=prior, config=config
        )
    else:
        z_best, d_best = z0, pool_d.reshape(-1)
    d_best = d_best.reshape(n, restarts)
    pick = jnp.argmin(d_best, axis=1)
    z_best = z_best.reshape(n, restarts, z_dim)[jnp.arange(n), pick]
    return InversionResult(
        z=np.asarray(z_best),
        distance=np.asarray(d_best[jnp.arange(n), pick], np.float64),
        pool_distance=np.asarray(pool_d[:, 0], np.float64),
    )


def _refine_in_batches(apply_fn, variables, targets, z0, *, prior, config):
    rows = z0.shape[0]
    size = min(config.batch_size, rows)
    pad = (-rows) % size
    if pad:
        targets = jnp.concatenate([targets, jnp.repeat(targets[-1:], pad, axis=0)])
        z0 = jnp.concatenate([z0, jnp.repeat(z0[-1:], pad, axis=0)])
    zs, ds = [], []
    for start in range(0, rows + pad, size):
        z, d = _adam_refine(
            apply_fn,
            variables,
            targets[start : start + size],
            z0[start : start + size],
            prior=prior,
            steps=config.steps,
            learning_rate=config.learning_rate,
            cosine_decay=config.cosine_decay,
        )
        zs.append(z)
        ds.append(d)
    return jnp.concatenate(zs)[:rows], jnp.concatenate(ds)[:rows]
