"""CGAN networks (Mirza & Osindero 2014), the architecture ``cgan``: the study's G and D with
the class joined (docs/protocol.md §12.1).

- G: [z, one_hot(y)] -> the study's generator (§3.3), unchanged but for its input width.
- D: the class joins D's features, not its pixels: one_hot(y) is concatenated to the flattened
  conv128 features before fc1024 (the paper maps x and y to hidden layers that are then
  joined, its §4.1), so the convolutional trunk is the study's unchanged.
G asked for no labels draws balanced classes (:func:`models.joins.balanced_classes`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.architectures.infogan import Generator
from models.joins import balanced_classes, conv_features, one_hot
from models.layers import dense, lrelu, maybe_bn
from models.registry import Architecture, NetFacts, register_architecture

NUM_CLASSES = 10


class ConditionalGenerator(nn.Module):
    """(z [B, d], labels [B]) -> images [B, h, w, c] in [0, 1] (or their logits)."""

    image_shape: tuple[int, int, int]
    num_classes: int = NUM_CLASSES
    activation: str = "lrelu"

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, labels: jax.Array | None = None,
                 logits: bool = False) -> jax.Array:
        if labels is None:
            labels = balanced_classes(z.shape[0], self.num_classes)
        h = jnp.concatenate([z, one_hot(labels, self.num_classes, z.dtype)], axis=-1)
        return Generator(self.image_shape, self.activation, name="generator")(h, train, logits)


class ConditionalDiscriminator(nn.Module):
    """(images [B, h, w, c], labels [B]) -> logits [B]: is x a real image of its class."""

    use_batch_norm: bool
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None):
        if labels is None:
            labels = jnp.zeros((x.shape[0],), jnp.int32)
        h = conv_features(x, self.use_batch_norm, train)
        h = jnp.concatenate([h, one_hot(labels, self.num_classes, h.dtype)], axis=-1)
        h = lrelu(maybe_bn(dense(1024)(h), self.use_batch_norm, train))
        return dense(1)(h)[:, 0]


@register_architecture("cgan")
class Cgan(Architecture):
    """CGAN's G and D (both take the labels)."""

    conditional = True

    def generator(self, facts: NetFacts) -> nn.Module:
        return ConditionalGenerator(tuple(facts.image_shape), facts.num_classes or NUM_CLASSES)

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return ConditionalDiscriminator(facts.disc_bn, facts.num_classes or NUM_CLASSES)
