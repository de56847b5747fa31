"""VAE-GAN networks (Larsen et al. 2016; docs/protocol.md §12.6), the architecture ``vaegan``.

Encoder: the VAE's (:class:`models.architectures.vae.Encoder`: the D trunk, mu and sigma),
held with the decoder (the study's GAN generator) in one module
(:class:`models.architectures.bigan.GeneratorWithEncoder`). D: the study's D, also returning
Dis_l, the layer whose features measure reconstructions: the last convolutional layer's
activations (conv128 -> [BN] -> lrelu, flattened). The paper measures reconstructions in the
l-th layer of Dis (its §2, Dis_l); the authors' code picks it by depth (``model/aegan.py``,
``AEGAN.__init__``, ``recon_depth``); the last conv layer is our choice.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from models.architectures.bigan import GeneratorWithEncoder
from models.architectures.infogan import Generator
from models.architectures.vae import Encoder
from models.joins import conv_features
from models.layers import dense, lrelu, maybe_bn
from models.registry import Architecture, NetFacts, register_architecture


class SampledEncoder(nn.Module):
    """(images, key) -> (z, mu, sigma) of the VAE's encoder; ``key=None`` gives z = mu."""

    z_dim: int
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, key: jax.Array | None = None):
        mu, sigma = Encoder(self.z_dim, self.use_batch_norm, name="vae_encoder")(x, train)
        if key is None:
            return mu, mu, sigma
        return mu + sigma * jax.random.normal(key, mu.shape, mu.dtype), mu, sigma


class FeatureDiscriminator(nn.Module):
    """Images -> (logit [B], {"features": Dis_l [B, 128 h/4 w/4]}); the study's D's layers."""

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool):
        features = conv_features(x, self.use_batch_norm, train)
        h = lrelu(maybe_bn(dense(1024)(features), self.use_batch_norm, train))
        return dense(1)(h)[:, 0], {"features": features}


@register_architecture("vaegan")
class VaeGan(Architecture):
    def generator(self, facts: NetFacts) -> nn.Module:
        return GeneratorWithEncoder(Generator(tuple(facts.image_shape)),
                                    SampledEncoder(facts.z_dim, facts.disc_bn),
                                    tuple(facts.image_shape))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return FeatureDiscriminator(facts.disc_bn)
