"""SeqGAN's CNN discriminator over token sequences (docs/protocol.md §11.2).

LantaoYu/SeqGAN ``discriminator.py`` (``Discriminator``, ``highway``, ``linear``): a uniform(-1, 1)
embedding, one VALID convolution + ReLU + max-over-time per filter size, one highway layer
(ReLU, gate bias 0), dropout, and a two-class linear output whose class 1 means "real".
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)  # sequence_gan.py dis_filter_sizes
NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)  # dis_num_filters


def _uniform(low: float, high: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, low, high)
    return init


def _truncated_normal(stddev: float):
    """tf.truncated_normal: N(0, stddev^2) redrawn beyond two standard deviations."""
    def init(key, shape, dtype=jnp.float32):
        return stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
    return init


def _glorot_vector(key, shape, dtype=jnp.float32):
    """tf.get_variable's default (glorot uniform) for a vector: fan_in = fan_out = size."""
    limit = (3.0 / shape[0]) ** 0.5
    return jax.random.uniform(key, shape, dtype, -limit, limit)


class SequenceDiscriminator(nn.Module):
    """Logits (B, 2) of token sequences (B, T); ``softmax(...)[:, 1]`` is P(real)."""

    vocab: int = 5000
    embedding: int = 64  # dis_embedding_dim
    filter_sizes: Sequence[int] = FILTER_SIZES
    num_filters: Sequence[int] = NUM_FILTERS
    dropout_keep: float = 0.75  # dis_dropout_keep_prob (training only)

    @nn.compact
    def __call__(self, tokens: jax.Array, train: bool = False,
                 features: bool = False) -> jax.Array:
        """Logits; ``features=True`` stops at the highway output (B, sum(num_filters)), where
        the caller applies its own dropout (a keep probability traced per run)."""
        table = self.param("embedding", _uniform(-1.0, 1.0), (self.vocab, self.embedding))
        x = table[tokens]  # (B, T, E)
        pooled = []
        for size, count in zip(self.filter_sizes, self.num_filters, strict=True):
            h = nn.Conv(count, (size,), padding="VALID", name=f"conv_{size}",
                        kernel_init=_truncated_normal(0.1),
                        bias_init=nn.initializers.constant(0.1))(x)
            pooled.append(nn.relu(h).max(axis=1))
        flat = jnp.concatenate(pooled, axis=-1)
        size = flat.shape[-1]
        dense = dict(kernel_init=nn.initializers.glorot_uniform(), bias_init=_glorot_vector)
        g = nn.relu(nn.Dense(size, name="highway_lin", **dense)(flat))
        t = nn.sigmoid(nn.Dense(size, name="highway_gate", **dense)(flat))  # gate bias 0
        h = t * g + (1.0 - t) * flat
        if features:
            return h
        h = nn.Dropout(1.0 - self.dropout_keep, deterministic=not train)(h)
        return nn.Dense(2, name="output", kernel_init=_truncated_normal(0.1),
                        bias_init=nn.initializers.constant(0.1))(h)


def output_l2(params) -> jax.Array:
    """tf.nn.l2_loss of the output layer's W and b (the only terms in the original's l2_loss)."""
    out = params["output"]
    return 0.5 * (jnp.sum(out["kernel"] ** 2) + jnp.sum(out["bias"] ** 2))
