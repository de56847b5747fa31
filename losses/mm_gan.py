"""Minimax GAN (docs/protocol.md §2.1).

D: the NS GAN loss. G minimises E log(1 - sigma(D(G(z)))).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses import ns_gan
from losses.base import Objective, Outputs

discriminator_loss = ns_gan.discriminator_loss


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    """E log(1 - sigma(D(G(z)))) = -E softplus(D(G(z)))."""
    return -jnp.mean(jax.nn.softplus(out.d_fake))


OBJECTIVE = Objective(discriminator_loss, generator_loss)
