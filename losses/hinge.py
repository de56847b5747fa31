"""Hinge GAN, as compare_gan v3's ``loss_lib.hinge`` (not in the paper's eight models).

D minimises mean relu(1 - D(x)) + mean relu(1 + D(G(z))); G minimises -mean D(G(z)).
Defaults (our choice): lr 2e-4, beta1 0.5, n_disc 1, D batch norm, i.e. the setting of
compare_gan v3 / SN-GAN (Miyato et al. 2018, setting A: Adam beta2 0.999 as ours) for the
hinge loss at n_disc 1, and the same D as NS GAN and LSGAN so a comparison changes the loss
only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import GanLoss


def discriminator_loss(d_real, d_fake, hp, extra) -> jax.Array:
    """Zero once D(x) >= 1 and D(G(z)) <= -1: only margin violations push D."""
    return jnp.mean(jax.nn.relu(1.0 - d_real)) + jnp.mean(jax.nn.relu(1.0 + d_fake))


def generator_loss(d_fake, hp, extra) -> jax.Array:
    return -jnp.mean(d_fake)


LOSS = GanLoss(
    name="hinge",
    title="Hinge GAN",
    discriminator_loss=discriminator_loss,
    generator_loss=generator_loss,
    defaults={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
)
