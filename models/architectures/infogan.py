"""The InfoGAN-style generator and discriminator used for every data set (docs/protocol.md §3),
registered as the architecture ``infogan`` (D outputs logits).

- D: conv64 -> lrelu -> conv128 -> [BN] -> lrelu -> flatten -> fc1024 -> [BN] -> lrelu -> fc1.
- G: z -> fc1024 -> BN -> act -> fc(128*h/4*w/4) -> BN -> act -> reshape -> deconv64 -> BN
  -> act -> deconv(c) -> sigmoid. ``act`` is leaky ReLU for the GANs (§3.3) and ReLU for
  the VAE decoder (§2.7).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.layers import ACTIVATIONS, batch_norm, conv, deconv, dense, flatten, lrelu, maybe_bn
from models.registry import Architecture, NetFacts, register_architecture


class Generator(nn.Module):
    """Maps latents [B, z_dim] to images [B, h, w, c] in [0, 1] (or their logits)."""

    image_shape: tuple[int, int, int]
    activation: str = "lrelu"

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, logits: bool = False) -> jax.Array:
        h, w, c = self.image_shape
        act = ACTIVATIONS[self.activation]
        x = act(batch_norm(train)(dense(1024)(z)))
        x = act(batch_norm(train)(dense(128 * (h // 4) * (w // 4))(x)))
        x = jnp.reshape(x, (z.shape[0], h // 4, w // 4, 128))
        x = act(batch_norm(train)(deconv(64)(x)))
        x = deconv(c)(x)
        return x if logits else nn.sigmoid(x)


class DiscriminatorTrunk(nn.Module):
    """Everything of D before its last layer; the VAE encoder reuses it (docs/protocol.md
    §3.2, §2.7)."""

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = lrelu(conv(64)(x))
        x = lrelu(maybe_bn(conv(128)(x), self.use_batch_norm, train))
        x = dense(1024)(flatten(x))
        return lrelu(maybe_bn(x, self.use_batch_norm, train))


class Discriminator(nn.Module):
    """Images [B, h, w, c] -> logits [B]. Applied separately to the real and the fake batch."""

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        return dense(1)(x)[:, 0]


@register_architecture("infogan")
class InfoGan(Architecture):
    """G with leaky ReLU (§3.3), D with batch norm where the run's disc_bn is on."""

    def generator(self, facts: NetFacts) -> nn.Module:
        return Generator(tuple(facts.image_shape), activation="lrelu")

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return Discriminator(facts.disc_bn)
