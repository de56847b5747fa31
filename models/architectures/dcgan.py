"""DCGAN's generator and discriminator (Radford, Metz & Chintala 2015; docs/protocol.md §13.1).

As the authors' ``faces/train_uncond_dcgan.py`` (Newmu/dcgan_code) builds them, at any size
``s * 2^n`` with ``s = 4`` (32x32: n = 3, 64x64: n = 4) or ``s = 7`` (28x28: n = 2):

- G: z -> dense(C * s * s) -> BN -> ReLU -> reshape [s, s, C] -> n - 1 times (5x5 stride-2
  fractionally strided conv, channels halved -> BN -> ReLU) -> 5x5 stride-2 fractionally
  strided conv to the image's channels -> tanh, with C = ``width`` * 2^(n-1).
- D: the mirror image: 5x5 stride-2 convs, LeakyReLU 0.2, BN on every conv but the first
  (D's input layer), then one dense layer from the flattened maps to the logit.

No pooling, no hidden fully connected layer, no biases (every conv or dense but the output
ones is followed by BN's offset; the authors' code has none either). The benchmark's images
are in [0, 1]: G returns (tanh(a) + 1) / 2 (the authors' ``inverse_transform``) and D maps
its input to 2x - 1 (their ``transform``), so both networks see the paper's [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.conv_grads import conv_general_dilated
from models.layers import LEAKY_SLOPE, batch_norm, flatten, normal_init
from models.registry import Architecture, NetFacts, register_architecture, scaled

KERNEL = 5  # dcgan_code: every conv and deconv is 5x5, stride 2, pad 2.
WIDTH = 128  # dcgan_code's ngf = ndf = 128 (the paper's Fig. 1: 1024 maps at 4x4 for 64x64).


def pyramid_plan(image_shape: tuple[int, ...]) -> tuple[int, int]:
    """(base size s, number of stride-2 stages n) with s * 2^n = the image side: s = 4 for
    32 and 64 (the paper's 4x4 projection), s = 7 for 28 (MNIST)."""
    h, w = image_shape[0], image_shape[1]
    if h != w:
        raise ValueError(f"DCGAN needs square images; got {h}x{w}")
    for base in (4, 7):
        n = 0
        size = h
        while size > base and size % 2 == 0:
            size //= 2
            n += 1
        if size == base and n >= 1:
            return base, n
    raise ValueError(f"DCGAN needs an image side of 4 * 2^n or 7 * 2^n (28, 32, 64, ...); "
                     f"got {h}")


class Deconv5x5(nn.Module):
    """5x5 stride-2 fractionally strided conv, pad 2: exactly the transpose (input gradient)
    of a 5x5 stride-2 pad-2 conv with the same kernel, as dcgan_code's ``lib/ops.deconv``.

    Written as two phases per axis (sub-pixel form): even output rows meet the flipped kernel's
    taps 0, 2, 4, odd rows its taps 1, 3; this avoids the input-dilated convolution whose
    gradient is very slow on XLA's CPU backend (models/layers.Deconv). Output 2H x 2W.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", normal_init, (KERNEL, KERNEL, x.shape[-1], self.features))
        flipped = kernel[::-1, ::-1]
        dims = ("NHWC", "HWIO", "NHWC")
        pads = {0: (1, 1), 1: (0, 1)}  # phase 0: taps 0,2,4 over rows i-1..i+1; 1: 1,3 over i..i+1
        phases = []
        for a in (0, 1):
            row = []
            for b in (0, 1):
                row.append(jax.lax.conv_general_dilated(
                    x, flipped[a::2, b::2], (1, 1), (pads[a], pads[b]), dimension_numbers=dims
                ))
            phases.append(jnp.stack(row, axis=3))  # [B, H, W, 2(b), C]
        y = jnp.stack(phases, axis=2)  # [B, H, 2(a), W, 2(b), C]
        n, h, _, w, _, c = y.shape
        return jnp.reshape(y, (n, 2 * h, 2 * w, c))


def conv5x5(features: int, kernel_init: Callable = normal_init) -> nn.Conv:
    return nn.Conv(features, (KERNEL, KERNEL), strides=(2, 2), padding=((2, 2), (2, 2)),
                   use_bias=False, kernel_init=kernel_init,
                   conv_general_dilated=conv_general_dilated)


class DcganGenerator(nn.Module):
    """Latents [B, z] -> images [B, h, w, c] in [0, 1] ((tanh + 1) / 2), or the pre-sigmoid
    logits 2a of that output with ``logits=True`` ((tanh(a) + 1) / 2 = sigmoid(2a))."""

    image_shape: tuple[int, int, int]
    width: int = WIDTH

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, logits: bool = False) -> jax.Array:
        h, w, c = self.image_shape
        base, n = pyramid_plan(self.image_shape)
        channels = self.width * 2 ** (n - 1)
        x = nn.Dense(channels * base * base, use_bias=False, kernel_init=normal_init)(z)
        x = nn.relu(batch_norm(train)(x))  # BN per unit of the projection, as dcgan_code
        x = jnp.reshape(x, (z.shape[0], base, base, channels))
        for _ in range(n - 1):
            channels //= 2
            x = nn.relu(batch_norm(train)(Deconv5x5(channels)(x)))
        a = Deconv5x5(c)(x)  # no BN on G's output layer
        return 2.0 * a if logits else nn.sigmoid(2.0 * a)


class DcganDiscriminator(nn.Module):
    """Images [B, h, w, c] in [0, 1] -> logits [B]. ``use_batch_norm`` False drops D's batch
    norm (the run's disc_bn, as for every architecture; the paper's D has it)."""

    image_shape: tuple[int, int, int]
    width: int = WIDTH
    use_batch_norm: bool = True
    # The initialisers of the convs' and the last dense layer's kernels: DCGAN's N(0, 0.02)
    # unless another model's authors used others (GRAN's, docs/protocol.md §13.4).
    conv_init: Callable = normal_init
    dense_init: Callable = normal_init

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        _, n = pyramid_plan(self.image_shape)
        x = 2.0 * x - 1.0
        channels = self.width
        # no BN on D's input layer
        x = nn.leaky_relu(conv5x5(channels, self.conv_init)(x), LEAKY_SLOPE)
        for _ in range(n - 1):
            channels *= 2
            x = conv5x5(channels, self.conv_init)(x)
            x = batch_norm(train)(x) if self.use_batch_norm else x
            x = nn.leaky_relu(x, LEAKY_SLOPE)
        return nn.Dense(1, use_bias=False, kernel_init=self.dense_init)(flatten(x))[:, 0]


def unsupported_side(image_shape: tuple[int, int, int]) -> str | None:
    try:
        pyramid_plan(image_shape)
    except ValueError as error:
        return str(error)
    return None


@register_architecture("dcgan")
class Dcgan(Architecture):
    """DCGAN's G and D (docs/protocol.md §13.1); D's batch norm follows the run's disc_bn."""

    def generator(self, facts: NetFacts) -> nn.Module:
        return DcganGenerator(tuple(facts.image_shape), width=scaled(WIDTH, facts))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return DcganDiscriminator(tuple(facts.image_shape), width=scaled(WIDTH, facts),
                                  use_batch_norm=facts.disc_bn)

    def unsupported(self, image_shape: tuple[int, int, int]) -> str | None:
        return unsupported_side(image_shape)
