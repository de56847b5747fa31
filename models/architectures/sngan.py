"""The SNGAN paper's "standard CNN" (Miyato et al. 2018, Table 3; docs/protocol.md §13.2), as
pfnet-research/chainer-gan-lib's ``common/net.py`` (``DCGANGenerator``,
``SNDCGANDiscriminator``) builds it.

- G: z -> dense(M_g * M_g * 512) -> BN -> ReLU -> three 4x4 stride-2 deconvs (256, 128, 64),
  each BN -> ReLU -> 3x3 stride-1 conv to the image's channels -> tanh. M_g = 4 at 32x32
  (the paper's CIFAR-10) and 8 at 64x64 (the paper's rule M_g = side / 8, as 6 for STL's 48);
  at 28x28 the net starts at 7x7x256 and keeps the 32x32 net's last two stages.
- D: 3x3/1 conv 64, 4x4/2 conv 64, 3x3/1 conv 128, 4x4/2 conv 128, 3x3/1 conv 256, 4x4/2
  conv 256, 3x3/1 conv 512, each LeakyReLU 0.1 (Table 3's caption; chainer-gan-lib uses
  chainer's default 0.2), then dense to the logit. No batch norm: D is meant to be
  spectrally normalised (``models.spectral_norm``); the ``sngan`` model always wraps it.

Weights N(0, 0.02) with biases, as chainer-gan-lib. G's output is (tanh + 1) / 2 and D maps its
input to 2x - 1, as ``models.architectures.dcgan`` does, so both see the paper's [-1, 1].
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.conv_grads import conv_general_dilated
from models.layers import Deconv, batch_norm, flatten, normal_init
from models.registry import Architecture, NetFacts, register_architecture, scaled
from models.spectral_norm import spectral_norm

SNGAN_SLOPE = 0.1  # Miyato et al. 2018, Table 3 caption


WIDTH = 64  # D's first layer; the widest layers have 8 x WIDTH = 512 channels (Table 3)


def bottom(image_shape: tuple[int, ...], width: int = WIDTH) -> tuple[int, int, int]:
    """(M_g, channels at M_g, number of 4x4 stride-2 deconvs) for a square image."""
    h, w = image_shape[0], image_shape[1]
    if h != w or h not in (28, 32, 64):
        raise ValueError(f"the SNGAN standard CNN is defined at 28x28, 32x32 and 64x64; "
                         f"got {h}x{w}")
    m, top, n = {28: (7, 4, 2), 32: (4, 8, 3), 64: (8, 8, 3)}[h]
    return m, top * width, n


class SnganGenerator(nn.Module):
    """Latents [B, z] -> images [B, h, w, c] in [0, 1] (or the logits 2a of sigmoid(2a))."""

    image_shape: tuple[int, int, int]
    width: int = WIDTH

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, logits: bool = False) -> jax.Array:
        c = self.image_shape[2]
        m, ch, n = bottom(self.image_shape, self.width)
        x = nn.Dense(m * m * ch, kernel_init=normal_init)(z)
        x = nn.relu(batch_norm(train)(x))  # chainer-gan-lib's bn0: per unit of the projection
        x = jnp.reshape(x, (z.shape[0], m, m, ch))
        for _ in range(n):
            ch //= 2
            x = nn.relu(batch_norm(train)(Deconv(ch)(x)))
        a = nn.Conv(c, (3, 3), padding="SAME", kernel_init=normal_init)(x)
        return 2.0 * a if logits else nn.sigmoid(2.0 * a)


class SnganDiscriminator(nn.Module):
    """Images [B, h, w, c] in [0, 1] -> logits [B]."""

    image_shape: tuple[int, int, int]
    width: int = WIDTH

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        bottom(self.image_shape, self.width)
        x = 2.0 * x - 1.0
        for ch in (self.width, 2 * self.width, 4 * self.width):
            x = nn.leaky_relu(nn.Conv(ch, (3, 3), padding=((1, 1), (1, 1)),
                                      kernel_init=normal_init)(x), SNGAN_SLOPE)
            # SAME = chainer's pad 1 on even sides; at 28x28 it takes 7 -> 4 (pad 1 gives 3,
            # whose input gradient is ten times slower on XLA's CPU backend, measured).
            x = nn.leaky_relu(nn.Conv(ch, (4, 4), strides=(2, 2), padding="SAME",
                                      kernel_init=normal_init,
                                      conv_general_dilated=conv_general_dilated)(x), SNGAN_SLOPE)
        x = nn.leaky_relu(nn.Conv(8 * self.width, (3, 3), padding=((1, 1), (1, 1)),
                                  kernel_init=normal_init)(x), SNGAN_SLOPE)
        return nn.Dense(1, kernel_init=normal_init)(flatten(x))[:, 0]


@register_architecture("sngan")
class Sngan(Architecture):
    """The SNGAN paper's standard CNN with its D spectrally normalised (docs/protocol.md §13.2);
    D has no batch norm whatever the run's disc_bn."""

    spectral_norm = True

    def generator(self, facts: NetFacts) -> nn.Module:
        return SnganGenerator(tuple(facts.image_shape), width=scaled(WIDTH, facts))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return spectral_norm(SnganDiscriminator(tuple(facts.image_shape),
                                                width=scaled(WIDTH, facts)))

    def unsupported(self, image_shape: tuple[int, int, int]) -> str | None:
        try:
            bottom(image_shape)
        except ValueError as error:
            return str(error)
        return None
