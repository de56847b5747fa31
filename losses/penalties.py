"""Gradient penalties: functions of the discriminator and its inputs (compare_gan penalty_lib).

``d_fn`` maps a batch of images to D's outputs [B] with the current D variables.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

GRAD_NORM_EPS = 1e-4  # ||g|| = sqrt(1e-4 + sum g^2): docs/protocol.md §2.4, §2.5


def _per_example_alpha(key: jax.Array, x: jax.Array) -> jax.Array:
    return jax.random.uniform(key, (x.shape[0],) + (1,) * (x.ndim - 1))


def gradient_penalty(
    f: Callable[[jax.Array], jax.Array], x_hat: jax.Array, eps: float = 0.0
) -> jax.Array:
    """mean over the batch of (||grad_x f(x_hat)|| - 1)^2, the norm taken per example."""
    grads = jax.grad(lambda x: jnp.sum(f(x)))(x_hat)
    norms = jnp.sqrt(eps + jnp.sum(grads**2, axis=tuple(range(1, grads.ndim))))
    return jnp.mean((norms - 1.0) ** 2)


def wgan_gp_penalty(d_fn, x_real, x_fake, key, hp) -> jax.Array:
    """lambda * mean (||grad D(x~)|| - 1)^2, x~ = x + a (G(z) - x), a ~ U[0,1] per example."""
    alpha = _per_example_alpha(key, x_real)
    x_hat = x_real + alpha * (x_fake - x_real)
    return hp["lambda"] * gradient_penalty(d_fn, x_hat, eps=GRAD_NORM_EPS)


def dragan_perturb(key: jax.Array, x: jax.Array, kind: str = "uniform") -> jax.Array:
    """x_p = x + 0.5 * std(batch) * u (v1 code: u ~ U[0,1) elementwise, one std over the batch).

    ``kind="gaussian"`` uses u ~ N(0, 1), as the paper's table writes it.
    """
    if kind == "uniform":
        u = jax.random.uniform(key, x.shape)
    elif kind == "gaussian":
        u = jax.random.normal(key, x.shape)
    else:
        raise ValueError(f"unknown DRAGAN perturbation {kind!r}")
    return x + 0.5 * jnp.std(x) * u


def dragan_penalty(d_fn, x_real, x_fake, key, hp, kind: str = "uniform") -> jax.Array:
    """lambda * mean (||grad sigma(D(x~))|| - 1)^2 at x~ = x + a (x_p - x)
    (docs/protocol.md §2.5)."""
    k_perturb, k_alpha = jax.random.split(key)
    x_p = dragan_perturb(k_perturb, x_real, kind)
    alpha = _per_example_alpha(k_alpha, x_real)
    x_hat = x_real + alpha * (x_p - x_real)
    return hp["lambda"] * gradient_penalty(lambda x: jax.nn.sigmoid(d_fn(x)), x_hat, GRAD_NORM_EPS)
