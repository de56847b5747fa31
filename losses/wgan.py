"""Wasserstein GAN with weight clipping (docs/protocol.md §2.3).

D minimises -mean D(x) + mean D(G(z)); G minimises -mean D(G(z)). After every D update every
D variable (weights, biases, batch-norm scale and offset) is clipped to [-c, c].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import GanLoss, HParam, LogUniform


def discriminator_loss(d_real, d_fake, hp, extra) -> jax.Array:
    return -jnp.mean(d_real) + jnp.mean(d_fake)


def generator_loss(d_fake, hp, extra) -> jax.Array:
    return -jnp.mean(d_fake)


def clip_discriminator(d_params, hp):
    """Clip every trainable D variable to [-clip, clip]."""
    c = hp["clip"]
    return jax.tree.map(lambda p: jnp.clip(p, -c, c), d_params)


LOSS = GanLoss(
    name="wgan",
    title="WGAN",
    discriminator_loss=discriminator_loss,
    generator_loss=generator_loss,
    defaults={"lr": 5e-5, "beta1": 0.5, "n_disc": 5, "disc_bn": True, "clip": 0.01},
    hparams=(
        HParam(
            "clip", 0.01, wide=LogUniform(-3, 0), narrow=LogUniform(-2, 0), low=0.0,
            help="WGAN weight-clipping bound c",
        ),
    ),
    after_discriminator_update=clip_discriminator,
)
