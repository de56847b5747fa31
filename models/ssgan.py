"""The semi-supervised GAN's discriminator (Salimans et al. 2016; Odena 2016;
docs/protocol.md §11.4): the study's D with K class logits in place of its one logit; the
"real" logit is their log-sum-exp (losses/ssgan.py). It also returns the trunk's output (the
last hidden layer) for G's feature matching, as the authors' ``train_mnist_feature_matching.py``
matches ``layers[-3]``, the last hidden layer's activations."""

from __future__ import annotations

import flax.linen as nn
import jax

from models.infogan import DiscriminatorTrunk
from models.layers import dense

NUM_CLASSES = 10


class ClassifierDiscriminator(nn.Module):
    """Images -> {"class_logits" [B, K], "features" [B, 1024]}."""

    use_batch_norm: bool
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> dict[str, jax.Array]:
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        return {"class_logits": dense(self.num_classes)(h), "features": h}
