"""BiGAN / ALI networks (Donahue, Krähenbühl & Darrell 2017; Dumoulin et al. 2017;
docs/protocol.md §12.5), the architecture ``bigan`` (deterministic E); ``ali``
(models/architectures/ali.py) has the stochastic E.

- E: the study's D trunk (§3.2) with a linear fc(z_dim) head (BiGAN), or the VAE encoder's
  head (mu, sigma = 1e-6 + softplus) sampled z = mu + sigma eps (ALI).
- D on pairs (x, z), in ALI's three parts (the ALI paper's appendix tables: D(x), D(z),
  D(x, z)): D(x) is the study's trunk, D(z) is fc1024 -> lrelu, D(x, z) is fc1024 -> lrelu ->
  fc1 on their concatenation.
- G is the study's generator. E sits with G (:class:`GeneratorWithEncoder`: they are trained
  together against D), so the state keeps the two networks of every GAN.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.architectures.infogan import DiscriminatorTrunk, Generator
from models.architectures.vae import Encoder as GaussianEncoder
from models.layers import dense, lrelu
from models.registry import Architecture, NetFacts, register_architecture


class DeterministicEncoder(nn.Module):
    """Images [B, h, w, c] -> z [B, z_dim] (BiGAN's E)."""

    z_dim: int
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, key: jax.Array | None = None):
        """(z, z, None): the code, its mean (itself) and no scale."""
        z = dense(self.z_dim)(DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train))
        return z, z, None


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


class GeneratorWithEncoder(nn.Module):
    """G (``__call__(z)``) and E (:meth:`encode`) in one module: {"generator", "encoder"}."""

    generator: nn.Module
    encoder: nn.Module
    image_shape: tuple[int, int, int]

    def __call__(self, z: jax.Array, train: bool, logits: bool = False) -> jax.Array:
        if self.is_initializing():  # create E's variables beside G's
            self.encoder(jnp.zeros((1, *self.image_shape)), train)
        return self.generator(z, train, logits)

    def encode(self, x: jax.Array, train: bool, key: jax.Array | None = None):
        """(z, mu, sigma) of images x (sigma None for a deterministic E)."""
        return self.encoder(x, train, key=key)


class JointDiscriminator(nn.Module):
    """(images [B, h, w, c], z [B, z_dim]) -> logits [B]: is (x, z) a pair (x, E(x))."""

    use_batch_norm: bool
    z_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, z: jax.Array | None = None) -> jax.Array:
        if z is None:  # initialisation only: the family always gives z
            z = jnp.zeros((x.shape[0], self.z_dim), x.dtype)
        hx = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        hz = lrelu(dense(1024)(z))
        h = lrelu(dense(1024)(jnp.concatenate([hx, hz], axis=-1)))
        return dense(1)(h)[:, 0]


class BiganArchitecture(Architecture):
    """BiGAN's networks; ``stochastic``: ALI's encoder (models/architectures/ali.py)."""

    stochastic = False

    def generator(self, facts: NetFacts) -> nn.Module:
        enc = StochasticEncoder if self.stochastic else DeterministicEncoder
        return GeneratorWithEncoder(Generator(tuple(facts.image_shape)),
                                    enc(facts.z_dim, facts.disc_bn), tuple(facts.image_shape))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return JointDiscriminator(facts.disc_bn, facts.z_dim)


@register_architecture("bigan")
class Bigan(BiganArchitecture):
    """BiGAN: a deterministic E."""
