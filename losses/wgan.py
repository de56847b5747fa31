"""Wasserstein GAN with weight clipping (docs/protocol.md §2.3).

D minimises -mean D(x) + mean D(G(z)); G minimises -mean D(G(z)). After every D update every
D variable (weights, biases, batch-norm scale and offset) is clipped to [-c, c].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    return -jnp.mean(out.d_real) + jnp.mean(out.d_fake)


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    return -jnp.mean(out.d_fake)


def clip_discriminator(d_params, hp):
    """Clip every trainable D variable to [-clip, clip]."""
    c = hp["clip"]
    return jax.tree.map(lambda p: jnp.clip(p, -c, c), d_params)


OBJECTIVE = Objective(discriminator_loss, generator_loss,
                      after_discriminator_update=clip_discriminator)
