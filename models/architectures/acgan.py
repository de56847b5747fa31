"""ACGAN networks (Odena, Olah & Shlens 2017; docs/protocol.md §12.2), the architecture
``acgan``: CGAN's G, and the study's D with an auxiliary K-class head on its trunk. D never
reads the labels it is handed."""

from __future__ import annotations

import flax.linen as nn
import jax

from models.architectures.cgan import NUM_CLASSES, ConditionalGenerator
from models.architectures.infogan import DiscriminatorTrunk
from models.layers import dense
from models.registry import Architecture, NetFacts, register_architecture


class AuxiliaryClassifierDiscriminator(nn.Module):
    """Images [B, h, w, c] -> (logit [B] real/fake, {"class_logits": [B, K]})."""

    use_batch_norm: bool
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None):
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        return dense(1)(h)[:, 0], {"class_logits": dense(self.num_classes)(h)}


@register_architecture("acgan")
class Acgan(Architecture):
    conditional = True

    def generator(self, facts: NetFacts) -> nn.Module:
        return ConditionalGenerator(tuple(facts.image_shape), facts.num_classes or NUM_CLASSES)

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return AuxiliaryClassifierDiscriminator(facts.disc_bn, facts.num_classes or NUM_CLASSES)
