"""BiGAN / ALI networks (Donahue, Krähenbühl & Darrell 2017; Dumoulin et al. 2017;
docs/protocol.md §12.5), the architecture ``bigan`` (deterministic E); ``ali``
(models/architectures/ali.py) has the stochastic E and ALI's D.

- E: the study's D trunk (§3.2) with a linear fc(z_dim) head squashed into the uniform prior's
  range, 2 sigmoid(a) - 1 (BiGAN: the authors' ``dist.py``, ``UniformDistribution.
  logits_to_recon``), or the VAE encoder's head (mu, sigma = 1e-6 + softplus) sampled
  z = mu + sigma eps (ALI).
- BiGAN's D (:class:`BiganDiscriminator`): the study's D with z joined into each hidden layer
  after the first, as a linear function of z added to the layer's pre-activation before its
  batch norm (the authors' ``net.py``, ``convnet`` and ``apply_cond``).
- ALI's D (:class:`JointDiscriminator`) in its three parts (the ALI paper's appendix tables:
  D(x), D(z), D(x, z)): D(x) is the study's trunk, D(z) is fc1024 -> lrelu, D(x, z) is
  fc1024 -> lrelu -> fc1 on their concatenation; dropout 0.2 on the inputs x and z and 0.5
  on every later layer's input (the tables; ``experiments/ali_cifar10.py``,
  ``create_models``).
- G is the study's generator. E sits with G (:class:`GeneratorWithEncoder`: they are trained
  together against D), so the state keeps the two networks of every GAN.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.architectures.infogan import DiscriminatorTrunk, Generator
from models.architectures.vae import Encoder as GaussianEncoder
from models.layers import conv, dense, flatten, lrelu, maybe_bn
from models.registry import Architecture, NetFacts, register_architecture


class DeterministicEncoder(nn.Module):
    """Images [B, h, w, c] -> z [B, z_dim] (BiGAN's E)."""

    z_dim: int
    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, key: jax.Array | None = None):
        """(z, z, None): the code in (-1, 1), its mean (itself) and no scale."""
        a = dense(self.z_dim)(DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train))
        z = 2.0 * jax.nn.sigmoid(a) - 1.0  # [BiGAN code] UniformDistribution.logits_to_recon
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


def _pair_latent(x: jax.Array, z: jax.Array | None, z_dim: int) -> jax.Array:
    """The z of a pair (x, z) scored by a joint D; zeros where none is given (initialisation
    only: the encoder family always gives z)."""
    return jnp.zeros((x.shape[0], z_dim), x.dtype) if z is None else z


# ALI's dropout rates in D ([ALI] appendix tables; experiments/ali_cifar10.py, create_models)
ALI_INPUT_DROPOUT = 0.2  # on x and z, the inputs of D(x) and D(z)
ALI_DROPOUT = 0.5  # on the input of every later layer of D


class JointDiscriminator(nn.Module):
    """ALI's D: (images [B, h, w, c], z [B, z_dim]) -> logits [B] in three parts, D(x),
    D(z), D(x, z), with ALI's dropout. Dropout acts in training mode when the apply has a
    "dropout" rng (the encoder family gives one); without one (initialisation) it is off."""

    use_batch_norm: bool
    z_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, z: jax.Array | None = None) -> jax.Array:
        z = _pair_latent(x, z, self.z_dim)
        off = not train or not self.has_rng("dropout")

        def drop(h, rate):
            return nn.Dropout(rate, deterministic=off)(h)

        bn = self.use_batch_norm
        hx = lrelu(conv(64)(drop(x, ALI_INPUT_DROPOUT)))  # D(x): the study's trunk
        hx = lrelu(maybe_bn(conv(128)(drop(hx, ALI_DROPOUT)), bn, train))
        hx = lrelu(maybe_bn(dense(1024)(drop(flatten(hx), ALI_DROPOUT)), bn, train))
        hz = lrelu(dense(1024)(drop(z, ALI_INPUT_DROPOUT)))  # D(z)
        h = drop(jnp.concatenate([hx, hz], axis=-1), ALI_DROPOUT)  # D(x, z)
        h = lrelu(dense(1024)(h))
        return dense(1)(drop(h, ALI_DROPOUT))[:, 0]


class BiganDiscriminator(nn.Module):
    """BiGAN's D: (images [B, h, w, c], z [B, z_dim]) -> logits [B]. The study's D (conv64 ->
    lrelu -> conv128 -> [BN] -> lrelu -> fc1024 -> [BN] -> lrelu -> fc1) with z joined into
    its hidden layers after the first: a linear map of z added to conv128's (per channel) and
    fc1024's pre-activations, before their batch norm ([BiGAN code] ``net.py``: ``convnet``
    passes ``cond`` to ``acts`` of every layer but the first; ``apply_cond`` adds
    ``multifc(cond)`` as a bias, then batch norm)."""

    use_batch_norm: bool
    z_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, z: jax.Array | None = None) -> jax.Array:
        z = _pair_latent(x, z, self.z_dim)
        h = lrelu(conv(64)(x))
        h = conv(128)(h) + dense(128)(z)[:, None, None, :]
        h = flatten(lrelu(maybe_bn(h, self.use_batch_norm, train)))
        h = dense(1024)(h) + dense(1024)(z)
        h = lrelu(maybe_bn(h, self.use_batch_norm, train))
        return dense(1)(h)[:, 0]


class BiganArchitecture(Architecture):
    """BiGAN's networks; ``stochastic``: ALI's encoder (models/architectures/ali.py)."""

    stochastic = False

    def generator(self, facts: NetFacts) -> nn.Module:
        enc = StochasticEncoder if self.stochastic else DeterministicEncoder
        return GeneratorWithEncoder(Generator(tuple(facts.image_shape)),
                                    enc(facts.z_dim, facts.disc_bn), tuple(facts.image_shape))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        joint = JointDiscriminator if self.stochastic else BiganDiscriminator
        return joint(facts.disc_bn, facts.z_dim)


@register_architecture("bigan")
class Bigan(BiganArchitecture):
    """BiGAN: a deterministic E."""
