"""Hinge GAN, as compare_gan v3's ``loss_lib.hinge`` (not in the paper's eight models).

D minimises mean relu(1 - D(x)) + mean relu(1 + D(G(z))); G minimises -mean D(G(z)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    """Zero once D(x) >= 1 and D(G(z)) <= -1: only margin violations push D."""
    return jnp.mean(jax.nn.relu(1.0 - out.d_real)) + jnp.mean(jax.nn.relu(1.0 + out.d_fake))


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    return -jnp.mean(out.d_fake)


OBJECTIVE = Objective(discriminator_loss, generator_loss)
