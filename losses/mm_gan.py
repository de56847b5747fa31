"""Minimax GAN (docs/protocol.md §2.1).

D: the NS GAN loss. G minimises E log(1 - sigma(D(G(z)))).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from losses import ns_gan


def generator_loss(d_fake, hp, extra) -> jax.Array:
    """E log(1 - sigma(D(G(z)))) = -E softplus(D(G(z)))."""
    return -jnp.mean(jax.nn.softplus(d_fake))


LOSS = dataclasses.replace(
    ns_gan.LOSS, name="mm_gan", title="MM GAN", generator_loss=generator_loss
)
