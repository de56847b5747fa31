"""How a class label or a latent joins the study's networks (docs/protocol.md §12.1, §12.5).

The conditional and encoder models change the InfoGAN-style D minimally: the convolutional part
of D (conv64 -> lrelu -> conv128 -> [BN] -> lrelu -> flatten, docs/protocol.md §3.2) is kept,
and what the method adds (a one-hot class, a latent code) is joined to its flattened features
before the fc1024 layer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.layers import conv, flatten, lrelu, maybe_bn


def one_hot(y: jax.Array, num_classes: int, dtype=jnp.float32) -> jax.Array:
    """Integer labels [B] -> one-hot [B, num_classes]."""
    return jax.nn.one_hot(y, num_classes, dtype=dtype)


def conv_features(x: jax.Array, use_batch_norm: bool, train: bool) -> jax.Array:
    """D's convolutional features of images [B, h, w, c] -> [B, 128 h/4 w/4].

    Call it inside a compact module: its layers become the caller's (Conv_0, Conv_1, ...).
    """
    h = lrelu(conv(64)(x))
    return flatten(lrelu(maybe_bn(conv(128)(h), use_batch_norm, train)))


def balanced_classes(n: int, num_classes: int) -> jax.Array:
    """[n] classes, class-major and balanced: (i * K) // n, so n = K * K samples laid out
    K per row show one class per row (the montage, docs/protocol.md §12.7)."""
    return (jnp.arange(n) * num_classes) // n
