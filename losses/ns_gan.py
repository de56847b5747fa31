"""Non-saturating GAN (docs/protocol.md §2.1).

D minimises BCE(real -> 1) + BCE(fake -> 0); G minimises -E log sigma(D(G(z))).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    """mean softplus(-D(x)) + mean softplus(D(G(z))), i.e. the two BCE terms on logits."""
    return jnp.mean(jax.nn.softplus(-out.d_real)) + jnp.mean(jax.nn.softplus(out.d_fake))


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    """-E log sigma(D(G(z))) = E softplus(-D(G(z)))."""
    return jnp.mean(jax.nn.softplus(-out.d_fake))


OBJECTIVE = Objective(discriminator_loss, generator_loss)
