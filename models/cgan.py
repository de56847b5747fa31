"""CGAN networks (Mirza & Osindero 2014): the study's G and D with the class joined
(docs/protocol.md §11.1).

- G: [z, one_hot(y)] -> the study's generator (§3.3), unchanged but for its input width.
- D: the class joins D's features, not its pixels: one_hot(y) is concatenated to the flattened
  conv128 features before fc1024 (the paper maps x and y to separate hidden layers that are
  then joined, §4.1 of the paper), so the convolutional trunk is the study's unchanged.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.infogan import Generator
from models.joins import conv_features, one_hot
from models.layers import dense, lrelu, maybe_bn

NUM_CLASSES = 10


class ConditionalGenerator(nn.Module):
    """(z [B, d], y [B]) -> images [B, h, w, c] in [0, 1] (or their logits)."""

    image_shape: tuple[int, int, int]
    num_classes: int = NUM_CLASSES
    activation: str = "lrelu"

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array, train: bool, logits: bool = False):
        h = jnp.concatenate([z, one_hot(y, self.num_classes, z.dtype)], axis=-1)
        return Generator(self.image_shape, self.activation, name="generator")(h, train, logits)


class ConditionalDiscriminator(nn.Module):
    """(images [B, h, w, c], y [B]) -> logits [B]: is x a real image of class y."""

    use_batch_norm: bool
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array, train: bool) -> jax.Array:
        h = conv_features(x, self.use_batch_norm, train)
        h = jnp.concatenate([h, one_hot(y, self.num_classes, h.dtype)], axis=-1)
        h = lrelu(maybe_bn(dense(1024)(h), self.use_batch_norm, train))
        return dense(1)(h)[:, 0]
