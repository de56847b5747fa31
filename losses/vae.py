"""The VAE baseline's loss (docs/protocol.md §2.7).

Bernoulli decoder: cross-entropy summed over height and width, averaged over batch and
channels; plus KL(q(z|x) || N(0, I)) = 0.5 * sum(mu^2 + sigma^2 - log sigma^2 - 1) over z,
averaged over the batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from losses.base import VaeLoss


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


LOSS = VaeLoss(
    name="vae",
    title="VAE",
    negative_elbo=negative_elbo,
    # v1 (docs/protocol.md §2.8): the encoder's batch norm is on by default in the wide
    # space and off in the narrow one; no n_disc (v1's VAE never reads disc_iters).
    defaults={"lr": 5e-5, "beta1": 0.5, "disc_bn": True},
    narrow_disc_bn=(True, False),
    narrow_defaults={"disc_bn": False},
)
