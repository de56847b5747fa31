"""ACGAN discriminator (Odena, Olah & Shlens 2017; docs/protocol.md §11.2): the study's D with
an auxiliary K-class head on its trunk. D never sees the label; G is the CGAN generator
(:class:`models.cgan.ConditionalGenerator`)."""

from __future__ import annotations

import flax.linen as nn
import jax

from models.infogan import DiscriminatorTrunk
from models.layers import dense

NUM_CLASSES = 10


class AuxiliaryClassifierDiscriminator(nn.Module):
    """Images [B, h, w, c] -> {"logit": [B] real/fake, "class_logits": [B, K]}."""

    use_batch_norm: bool
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> dict[str, jax.Array]:
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        return {"logit": dense(1)(h)[:, 0], "class_logits": dense(self.num_classes)(h)}
