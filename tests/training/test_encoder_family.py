"""The encoder family (docs/protocol.md §12.5): BiGAN's D sees (x, E(x)) as real and
(G(z), z) as fake."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from benchmark.training.families.encoder import pairs
from models.architectures.bigan import GeneratorWithEncoder


class MeanEncoder(nn.Module):
    """E(x) = the image's mean pixel, in every coordinate."""

    @nn.compact
    def __call__(self, x, train, key=None):
        z = jnp.broadcast_to(jnp.mean(x, axis=(1, 2, 3))[:, None], (x.shape[0], 2))
        return z, z, None


class FillGenerator(nn.Module):
    """G(z) = an image filled with 10 + z[0]."""

    @nn.compact
    def __call__(self, z, train, logits=False):
        return jnp.broadcast_to(10.0 + z[:, 0, None, None, None], (z.shape[0], 2, 2, 1))


class PairFingerprint(nn.Module):
    """D(x, z) = 1000 mean(x) + z[0]: which image and which code it saw."""

    @nn.compact
    def __call__(self, x, train, z=None):
        return 1000.0 * jnp.mean(x, axis=(1, 2, 3)) + z[:, 0]


def test_bigan_discriminator_sees_real_pairs_and_fake_pairs():
    G = GeneratorWithEncoder(FillGenerator(), MeanEncoder(), (2, 2, 1))
    x = jnp.arange(12.0).reshape(3, 2, 2, 1) / 12.0
    z = jnp.array([[0.1, 0.0], [0.2, 0.0], [0.3, 0.0]])
    out, _, _ = pairs(G, PairFingerprint(), {}, {}, {}, {}, x, z, None)
    mean_x = jnp.mean(x, axis=(1, 2, 3))
    np.testing.assert_allclose(out.d_real, 1000.0 * mean_x + mean_x, rtol=1e-6)  # (x, E(x))
    np.testing.assert_allclose(out.d_fake, 1000.0 * (10.0 + z[:, 0]) + z[:, 0], rtol=1e-6)
    assert jax.tree.leaves(out.aux_real) == []
