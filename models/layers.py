"""Layer settings shared by every architecture (docs/protocol.md §3.1).

Conv and transposed conv: 4x4, stride 2, SAME padding. Weights N(0, 0.02) (truncated normal
for conv, as compare_gan v1's ``conv2d``; plain normal for deconv and dense), biases 0.
Batch norm: decay 0.999, eps 1e-3, with scale. Leaky ReLU slope 0.2.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.conv_grads import conv_general_dilated

WEIGHT_STD = 0.02
LEAKY_SLOPE = 0.2
BN_DECAY = 0.999
BN_EPS = 1e-3

# Both initialisers use the standard deviation of the untruncated normal, as TF1 did.
conv_init = nn.initializers.truncated_normal(stddev=WEIGHT_STD)
normal_init = nn.initializers.normal(stddev=WEIGHT_STD)


def conv(features: int, kernel_init: Callable = conv_init) -> nn.Conv:
    """The 4x4, stride-2, SAME convolution; its second derivatives (a gradient penalty's) are
    convolutions XLA runs fast (:mod:`models.conv_grads`)."""
    return nn.Conv(features, (4, 4), strides=(2, 2), padding="SAME", kernel_init=kernel_init,
                   conv_general_dilated=conv_general_dilated)


class Deconv(nn.Module):
    """4x4, stride-2, SAME transposed convolution, as four 2x2 convolutions (sub-pixel form).

    It computes exactly what ``flax.linen.ConvTranspose(features, (4, 4), strides=(2, 2),
    padding="SAME")`` computes, with the same (4, 4, in, out) kernel: output pixel
    (2i + a, 2j + b) only meets the kernel taps ``K[a::2, b::2]``. Written this way it avoids
    the input-dilated convolution whose gradient is very slow on XLA's CPU backend (many times
    slower than this form; measured: docs/speed.md); on accelerators both forms are fast.
    """

    features: int
    # The (4, 4, in, out) kernel's initialiser: N(0, 0.02) (§3.1) unless an architecture
    # follows its authors' (GRAN's, docs/protocol.md §13.4).
    kernel_init: Callable = normal_init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (4, 4, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        dims = ("NHWC", "HWIO", "NHWC")
        phases = []
        for a in (0, 1):
            row = []
            for b in (0, 1):
                padding = ((1 - a, a), (1 - b, b))
                row.append(jax.lax.conv_general_dilated(
                    x, kernel[a::2, b::2], (1, 1), padding, dimension_numbers=dims
                ))
            phases.append(jnp.stack(row, axis=3))  # [B, H, W, 2(b), C]
        y = jnp.stack(phases, axis=2)  # [B, H, 2(a), W, 2(b), C]
        n, h, _, w, _, c = y.shape
        return jnp.reshape(y, (n, 2 * h, 2 * w, c)) + bias


def deconv(features: int) -> Deconv:
    return Deconv(features)


def dense(features: int) -> nn.Dense:
    return nn.Dense(features, kernel_init=normal_init)


def batch_norm(train: bool) -> nn.BatchNorm:
    """Batch norm with the study's settings; batch statistics in training, moving averages else."""
    return nn.BatchNorm(
        use_running_average=not train, momentum=BN_DECAY, epsilon=BN_EPS, use_scale=True
    )


def only_batch_norm(stats) -> bool:
    """True where every leaf of a network's ``batch_stats`` is a moving mean or variance of
    :func:`batch_norm` (no spectral norm's power-iteration vectors, nothing else a pass
    updates): then a second training-mode pass on the same input moves them as
    :func:`repeat_batch_norm_update` says."""
    for path, _ in jax.tree_util.tree_flatten_with_path(stats)[0]:
        keys = [str(getattr(k, "key", k)) for k in path]
        if len(keys) < 2 or keys[-1] not in ("mean", "var") or not keys[-2].startswith("BatchNorm"):
            return False
    return True


def repeat_batch_norm_update(before, after):
    """The moving averages after a second update with the same batch statistics ``b``:
    ``after = d before + (1 - d) b`` gives ``d after + (1 - d) b = after + d (after - before)``
    (d = BN_DECAY; docs/protocol.md §4.2)."""
    return jax.tree.map(lambda a0, a1: a1 + BN_DECAY * (a1 - a0), before, after)


def lrelu(x: jax.Array) -> jax.Array:
    return nn.leaky_relu(x, LEAKY_SLOPE)


ACTIVATIONS = {"lrelu": lrelu, "relu": nn.relu}


def maybe_bn(x: jax.Array, use: bool, train: bool) -> jax.Array:
    return batch_norm(train)(x) if use else x


def flatten(x: jax.Array) -> jax.Array:
    return jnp.reshape(x, (x.shape[0], -1))
