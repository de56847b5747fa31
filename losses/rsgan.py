"""Relativistic standard GAN (RSGAN; Jolicoeur-Martineau 2018, "The relativistic
discriminator", eq. for RSGAN; not in the paper's eight models).

D minimises E softplus(-(D(x) - D(G(z)))); G minimises E softplus(-(D(G(z)) - D(x))),
pairing the i-th real and fake example of the batch. G's loss needs D on the real batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    """-E log sigma(D(x) - D(G(z)))."""
    return jnp.mean(jax.nn.softplus(-(out.d_real - out.d_fake)))


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    """-E log sigma(D(G(z)) - D(x)), with D(x) from the updated D."""
    return jnp.mean(jax.nn.softplus(-(out.d_fake - out.d_real)))


OBJECTIVE = Objective(discriminator_loss, generator_loss, generator_sees_real=True)
