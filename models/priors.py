"""The latent priors, in one place: z ~ U(-1, 1)^d for the GANs, N(0, I) for the VAE
(docs/protocol.md §3.6). Training, evaluation latents and generator inversion
all sample through :func:`sample`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

PRIORS = ("uniform", "normal")
NORMAL_BOUND = 4.0  # the support inversion projects a normal latent onto


def check(prior: str) -> None:
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; choose one of: {', '.join(PRIORS)}")


def sample(key: jax.Array, shape: tuple[int, ...], prior: str) -> jax.Array:
    """``shape`` latents of ``prior``: U(-1, 1) or N(0, 1) elementwise."""
    check(prior)
    if prior == "uniform":
        return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
    return jax.random.normal(key, shape)


def project(z: jax.Array, prior: str) -> jax.Array:
    """Project latents onto the prior's support (uniform: [-1,1]^d; normal: [-4,4]^d)."""
    bound = 1.0 if prior == "uniform" else NORMAL_BOUND
    return jnp.clip(z, -bound, bound)
