"""Non-saturating GAN (docs/protocol.md §2.1).

D minimises BCE(real -> 1) + BCE(fake -> 0); G minimises -E log sigma(D(G(z))).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import GanLoss


def discriminator_loss(d_real, d_fake, hp, extra) -> jax.Array:
    """mean softplus(-D(x)) + mean softplus(D(G(z))), i.e. the two BCE terms on logits."""
    return jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_fake))


def generator_loss(d_fake, hp, extra) -> jax.Array:
    """-E log sigma(D(G(z))) = E softplus(-D(G(z)))."""
    return jnp.mean(jax.nn.softplus(-d_fake))


LOSS = GanLoss(
    name="ns_gan",
    title="NS GAN",
    discriminator_loss=discriminator_loss,
    generator_loss=generator_loss,
    defaults={"lr": 5e-5, "beta1": 0.0, "n_disc": 1, "disc_bn": True},
)
