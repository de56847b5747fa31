"""The VAE baseline's loss (docs/protocol.md §2.7).

Bernoulli decoder: cross-entropy summed over height and width, averaged over batch and
channels; plus KL(q(z|x) || N(0, I)) = 0.5 * sum(mu^2 + sigma^2 - log sigma^2 - 1) over z,
averaged over the batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from losses.base import ElboObjective


def reconstruction_loss(logits: jax.Array, x: jax.Array) -> jax.Array:
    """Bernoulli cross-entropy of x under sigma(logits): sum over H, W; mean over B and C."""
    ce = optax.sigmoid_binary_cross_entropy(logits, x)
    return jnp.mean(jnp.sum(ce, axis=(1, 2)))


def kl_divergence(mu: jax.Array, sigma: jax.Array) -> jax.Array:
    kl = 0.5 * jnp.sum(mu**2 + sigma**2 - jnp.log(sigma**2) - 1.0, axis=-1)
    return jnp.mean(kl)


def negative_elbo(logits, x, mu, sigma):
    recon, kl = reconstruction_loss(logits, x), kl_divergence(mu, sigma)
    return recon + kl, {"reconstruction": recon, "kl": kl}


OBJECTIVE = ElboObjective(negative_elbo)
