"""CGAN objective (Mirza & Osindero 2014; docs/protocol.md §11.1): the non-saturating GAN
loss (§2.1) on D's logits of (image, class) pairs.

``out`` holds ``d_real`` = D(x, y) for a real batch with its labels and ``d_fake`` =
D(G(z, y'), y') for fakes of the drawn classes y'.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp

# Adam 2e-4, beta1 0.5 as ACGAN and InfoGAN (the CGAN paper used SGD with momentum, §4.1).
DEFAULTS = {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True}
HPARAMS = ()


def discriminator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """mean softplus(-D(x, y)) + mean softplus(D(G(z, y'), y'))."""
    return jnp.mean(jax.nn.softplus(-out["d_real"])) + jnp.mean(jax.nn.softplus(out["d_fake"]))


def generator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """-E log sigma(D(G(z, y'), y'))."""
    return jnp.mean(jax.nn.softplus(-out["d_fake"]))
