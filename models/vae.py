"""The VAE of the study (PROTOCOL, Models, VAE).

Encoder: the D trunk (batch norm on) with an fc(2*z_dim) head giving the mean and the
pre-softplus scale, sigma = 1e-6 + softplus(.). Decoder: the G architecture with ReLU and
batch norm always on, read as Bernoulli logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from models.infogan import DiscriminatorTrunk
from models.layers import dense


class Encoder(nn.Module):
    """Images [B, h, w, c] -> (mu [B, z_dim], sigma [B, z_dim])."""

    z_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        h = DiscriminatorTrunk(use_batch_norm=True, name="trunk")(x, train)
        params = dense(2 * self.z_dim)(h)
        mu, pre_sigma = params[:, : self.z_dim], params[:, self.z_dim :]
        return mu, 1e-6 + nn.softplus(pre_sigma)
