"""The VAE of the study (docs/protocol.md §2.7, §3.5), the architecture ``vae``: the decoder
sits where G sits, the encoder where D sits.

Encoder: the D trunk with an fc(2*z_dim) head giving the mean and the pre-softplus scale,
sigma = 1e-6 + softplus(.); the trunk has batch norm after conv128 and fc1024 only when
``use_batch_norm`` (compare_gan v1's ``discriminator_batchnorm``, searched for the VAE).
Decoder: the G architecture with ReLU and batch norm always on, read as Bernoulli logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from models.architectures.infogan import DiscriminatorTrunk, Generator
from models.layers import dense
from models.registry import Architecture, NetFacts, register_architecture


class Encoder(nn.Module):
    """Images [B, h, w, c] -> (mu [B, z_dim], sigma [B, z_dim])."""

    z_dim: int
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        h = DiscriminatorTrunk(use_batch_norm=self.use_batch_norm, name="trunk")(x, train)
        params = dense(2 * self.z_dim)(h)
        mu, pre_sigma = params[:, : self.z_dim], params[:, self.z_dim :]
        return mu, 1e-6 + nn.softplus(pre_sigma)


@register_architecture("vae")
class Vae(Architecture):
    """The decoder (G with ReLU, read as logits) and the encoder (the D trunk + fc(2 z_dim))."""

    def generator(self, facts: NetFacts) -> nn.Module:
        return Generator(tuple(facts.image_shape), activation="relu")

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return Encoder(facts.z_dim, facts.disc_bn)
