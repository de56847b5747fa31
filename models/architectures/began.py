"""The BEGAN discriminator: an autoencoder (docs/protocol.md §3.4); the architecture ``began``
(the InfoGAN-style G with this D).

Encoder conv64 -> lrelu -> conv128 -> flatten -> fc64 -> [BN] -> lrelu; decoder
fc(128*h/4*w/4) -> [BN] -> lrelu -> deconv64 -> [BN] -> lrelu -> deconv(c) -> sigmoid.
The module's output is the per-example reconstruction error mean|AE(x) - x| over pixels, so
BEGAN's loss, like every other loss, is a function of discriminator outputs.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.architectures.infogan import Generator
from models.layers import conv, deconv, dense, flatten, lrelu, maybe_bn
from models.registry import Architecture, NetFacts, register_architecture


class BeganAutoencoder(nn.Module):
    """Images [B, h, w, c] -> reconstructions in [0, 1]."""

    image_shape: tuple[int, int, int]
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        h, w, c = self.image_shape
        bn = self.use_batch_norm
        x = lrelu(conv(64)(x))
        x = flatten(conv(128)(x))
        x = lrelu(maybe_bn(dense(64)(x), bn, train))
        x = lrelu(maybe_bn(dense(128 * (h // 4) * (w // 4))(x), bn, train))
        x = jnp.reshape(x, (x.shape[0], h // 4, w // 4, 128))
        x = lrelu(maybe_bn(deconv(64)(x), bn, train))
        return nn.sigmoid(deconv(c)(x))


class BeganDiscriminator(nn.Module):
    """Images [B, h, w, c] -> per-example reconstruction error [B] (BEGAN's L before the mean)."""

    image_shape: tuple[int, int, int]
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        recon = BeganAutoencoder(self.image_shape, self.use_batch_norm, name="autoencoder")(
            x, train
        )
        return jnp.mean(jnp.abs(recon - x), axis=(1, 2, 3))


@register_architecture("began")
class Began(Architecture):
    """The InfoGAN-style G (leaky ReLU) and the autoencoder D (per-example L1 errors)."""

    def generator(self, facts: NetFacts) -> nn.Module:
        return Generator(tuple(facts.image_shape), activation="lrelu")

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return BeganDiscriminator(tuple(facts.image_shape), facts.disc_bn)
