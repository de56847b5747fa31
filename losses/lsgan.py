"""Least-squares GAN with the squares on the sigmoid output, as compare_gan v1
(docs/protocol.md §2.2).

D = 0.5 * [mean (sigma(D(x)) - 1)^2 + mean sigma(D(G(z)))^2]; G = 0.5 * mean (sigma(D(G(z))) - 1)^2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    real, fake = jax.nn.sigmoid(out.d_real), jax.nn.sigmoid(out.d_fake)
    return 0.5 * (jnp.mean((real - 1.0) ** 2) + jnp.mean(fake**2))


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    return 0.5 * jnp.mean((jax.nn.sigmoid(out.d_fake) - 1.0) ** 2)


OBJECTIVE = Objective(discriminator_loss, generator_loss)
