"""The semi-supervised GAN's networks (Salimans et al. 2016; Odena 2016; docs/protocol.md
§12.4), the architecture ``ssgan``: the study's G, and the study's D with K class logits in
place of its one logit. D's main output is the "real" logit, the log-sum-exp of the class
logits; its heads are the class logits and the trunk's output (the last hidden layer, which
G's feature matching compares, as the authors' ``train_mnist_feature_matching.py`` matches
``layers[-3]``)."""

from __future__ import annotations

import flax.linen as nn
import jax

from models.architectures.infogan import DiscriminatorTrunk, Generator
from models.layers import dense
from models.registry import Architecture, NetFacts, register_architecture

NUM_CLASSES = 10


class ClassifierDiscriminator(nn.Module):
    """Images -> (lse(class logits) [B], {"class_logits" [B, K], "features" [B, 1024]})."""

    use_batch_norm: bool
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array, train: bool):
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        logits = dense(self.num_classes)(h)
        return jax.nn.logsumexp(logits, axis=-1), {"class_logits": logits, "features": h}


@register_architecture("ssgan")
class Ssgan(Architecture):
    def generator(self, facts: NetFacts) -> nn.Module:
        return Generator(tuple(facts.image_shape))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return ClassifierDiscriminator(facts.disc_bn, facts.num_classes or NUM_CLASSES)
