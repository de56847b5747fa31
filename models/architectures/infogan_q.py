"""InfoGAN's networks (Chen et al. 2016; docs/protocol.md §12.3), the architecture
``infogan_q``: the study's G on InfoGAN's latent codes, and the study's D with a Q head.

The MNIST setup of the paper (§7; the authors' ``launchers/run_mnist_exp.py``,
``latent_spec``): 62 noise dimensions U(-1, 1), a categorical code Cat(10), two continuous
codes U(-1, 1). Ours carries them as the study's z ~ U(-1, 1)^64, whose last two coordinates
are the continuous codes, and the category as G's ``labels`` (one-hot, joined to z as CGAN's
class): G's input is the same 74 numbers. Q shares D's trunk (the authors'
``regularized_gan.py``, ``RegularizedGAN.__init__``: ``encoder_template`` = fc128 -> BN ->
lrelu -> fc(10 + 2) on D's ``shared_template``) and gives the category's logits and the
continuous codes' means (standard deviation fixed at 1, ``Uniform(1, fix_std=True)``).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from models.architectures.cgan import ConditionalGenerator
from models.architectures.infogan import DiscriminatorTrunk
from models.layers import dense, lrelu, maybe_bn
from models.registry import Architecture, NetFacts, register_architecture

CATEGORIES = 10
CONTINUOUS = 2  # the last CONTINUOUS coordinates of z


def continuous_codes(z: jax.Array) -> jax.Array:
    """The continuous codes carried in z [B, d]: its last two coordinates."""
    return z[:, -CONTINUOUS:]


class InfoDiscriminator(nn.Module):
    """Images -> (logit [B], {"category_logits" [B, 10], "continuous_mean" [B, 2]}). Q's batch
    norm follows D's (``use_batch_norm``); the authors' Q always has it."""

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None):
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        logit = dense(1)(h)[:, 0]
        q = lrelu(maybe_bn(dense(128)(h), self.use_batch_norm, train))
        q = dense(CATEGORIES + CONTINUOUS)(q)
        return logit, {"category_logits": q[:, :CATEGORIES],
                       "continuous_mean": q[:, CATEGORIES:]}


@register_architecture("infogan_q")
class InfoGanQ(Architecture):
    """G takes the category as its ``labels`` (drawn by the family, never the data's)."""

    conditional = True

    def generator(self, facts: NetFacts) -> nn.Module:
        return ConditionalGenerator(tuple(facts.image_shape), CATEGORIES)

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return InfoDiscriminator(facts.disc_bn)
