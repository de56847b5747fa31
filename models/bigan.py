"""BiGAN / ALI networks (Donahue, Krähenbühl & Darrell 2017; Dumoulin et al. 2017;
docs/protocol.md §11.5).

- E: the study's D trunk (§3.2) with a linear head: z = fc(z_dim) (BiGAN, deterministic), or
  the VAE's encoder head (mu, sigma = 1e-6 + softplus) sampled z = mu + sigma eps (ALI,
  stochastic: :class:`models.vae.Encoder`).
- D on pairs (x, z), in ALI's three parts (the ALI paper's appendix tables: D(x), D(z),
  D(x, z)): D(x) is the study's trunk (conv64 -> conv128 -> fc1024), D(z) is fc1024 -> lrelu,
  and D(x, z) is fc1024 -> lrelu -> fc1 on their concatenation.
G is the study's generator.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.infogan import DiscriminatorTrunk
from models.layers import dense, lrelu
from models.vae import Encoder as GaussianEncoder


class DeterministicEncoder(nn.Module):
    """Images [B, h, w, c] -> z [B, z_dim] (BiGAN's E)."""

    z_dim: int
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        return dense(self.z_dim)(h)


class StochasticEncoder(nn.Module):
    """(images, key) -> (z, mu, sigma): ALI's reparametrised E; ``key=None`` gives z = mu."""

    z_dim: int
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, key: jax.Array | None = None):
        mu, sigma = GaussianEncoder(self.z_dim, self.use_batch_norm, name="gaussian")(x, train)
        if key is None:
            return mu, mu, sigma
        return mu + sigma * jax.random.normal(key, mu.shape, mu.dtype), mu, sigma


class JointDiscriminator(nn.Module):
    """(images [B, h, w, c], z [B, z_dim]) -> logits [B]: is (x, z) a pair (x, E(x))."""

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, z: jax.Array, train: bool) -> jax.Array:
        hx = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        hz = lrelu(dense(1024)(z))
        h = lrelu(dense(1024)(jnp.concatenate([hx, hz], axis=-1)))
        return dense(1)(h)[:, 0]
