"""LAPGAN: a Laplacian pyramid of GANs (Denton, Chintala, Szlam & Fergus 2015; docs/protocol.md
§13.3), as the authors' facebookarchive/eyescream ``cifar/`` scripts build the levels.

The pyramid of an image I: Gaussian images I_0 = d^(L-1)(I) (coarsest) ... I_(L-1) = I, the
coarsest kept as is and every finer level as its band-pass residual h_k = I_k - u(I_(k-1)).
d is 2x2 averaging, u bilinear upsampling; :func:`reconstruct` inverts
:func:`laplacian_pyramid` exactly. 28x28 gives 7 -> 14 -> 28, 32x32 gives 8 -> 16 -> 32.

- Level 0 (coarsest): an ordinary GAN of fully connected nets (``train_cifar.lua``'s MLPs):
  G z_0 -> dense ReLU -> dense ReLU -> dense -> sigmoid; D flatten -> dense ReLU x2 -> logit.
- Level k >= 1: G_k gets the upsampled coarser image l_k = u(I_(k-1)) and a noise plane, as
  extra channel, and returns the residual: [noise, l_k] -> 7x7 conv ReLU -> 7x7 conv ReLU ->
  5x5 conv (linear); D_k sees h + l_k (eyescream's ``CAddTable``) -> 5x5 conv ReLU -> 5x5
  stride-2 conv ReLU -> dense -> logit (``train_cifar_coarse_to_fine.lua``).

The benchmark hands G one latent z per sample: it is split into L chunks, z_0 for level 0,
and level k's noise plane is a learned linear map of z_k (the paper draws an independent
uniform plane; a plane that is a function of z keeps G a function of z alone). Sampling
chains the levels: I_0 = G_0(z_0), I_k = u(I_(k-1)) + G_k(z_k, u(I_(k-1))), clipped to [0, 1]
at the end. In training each level's G_k and D_k are conditioned on the *real* image's l_k,
as in the paper; see docs/protocol.md §13.3 for how the levels are trained together.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.layers import flatten, normal_init
from models.registry import Architecture, NetFacts, register_architecture, scaled

LEVELS = 3  # 7 -> 14 -> 28 and 8 -> 16 -> 32 (the paper's CIFAR-10 pyramid)
WIDTH = 128  # eyescream's --hidden_G / --hidden_D default for the conditional levels
COARSE_G_HIDDEN = 1200  # ours: the paper's coarse widths are not in its text (§13.3)
COARSE_D_HIDDEN = 600


def pyramid_sides(image_shape: tuple[int, ...], levels: int = LEVELS) -> list[int]:
    """The sides of the pyramid's levels, coarsest first; a one-line error where the image's
    side is not divisible by 2^(levels - 1)."""
    h, w = image_shape[0], image_shape[1]
    factor = 2 ** (levels - 1)
    if levels < 1 or h != w or h % factor or h // factor < 2:
        raise ValueError(f"LAPGAN: a {levels}-level pyramid needs a square image whose side "
                         f"is divisible by {factor} (e.g. 28 or 32 for 3 levels); got {h}x{w}")
    return [h // 2 ** (levels - 1 - k) for k in range(levels)]


def downsample(x: jax.Array) -> jax.Array:
    """d: 2x2 average pooling, [B, 2h, 2w, c] -> [B, h, w, c]."""
    b, h, w, c = x.shape
    return jnp.mean(jnp.reshape(x, (b, h // 2, 2, w // 2, 2, c)), axis=(2, 4))


def upsample(x: jax.Array) -> jax.Array:
    """u: bilinear upsampling by 2 (half-pixel centres, as torch's image.scale)."""
    b, h, w, c = x.shape
    return jax.image.resize(x, (b, 2 * h, 2 * w, c), method="linear")


def gaussian_pyramid(x: jax.Array, levels: int = LEVELS) -> list[jax.Array]:
    """[I_0 (coarsest), ..., I_(L-1) = x]."""
    pyramid_sides(x.shape[1:], levels)
    images = [x]
    for _ in range(levels - 1):
        images.append(downsample(images[-1]))
    return images[::-1]


def laplacian_pyramid(x: jax.Array, levels: int = LEVELS) -> list[jax.Array]:
    """[I_0, h_1, ..., h_(L-1)]: the coarsest image, then the band-pass residuals."""
    images = gaussian_pyramid(x, levels)
    pairs = zip(images[:-1], images[1:], strict=True)
    return [images[0]] + [fine - upsample(coarse) for coarse, fine in pairs]


def reconstruct(bands: list[jax.Array]) -> jax.Array:
    """The image whose Laplacian pyramid is ``bands`` (exact inverse of the pyramid)."""
    image = bands[0]
    for residual in bands[1:]:
        image = upsample(image) + residual
    return image


def real_inputs(x: jax.Array, levels: int = LEVELS) -> tuple[tuple, tuple]:
    """D's input for a real batch: (the pyramid's bands, the conditioning images
    l_k = u(I_(k-1)) of the finer levels)."""
    images = gaussian_pyramid(x, levels)
    bands = laplacian_pyramid(x, levels)
    conds = tuple(upsample(coarse) for coarse in images[:-1])
    return tuple(bands), conds


def split_latent(z: jax.Array, levels: int) -> list[jax.Array]:
    if z.shape[-1] < levels:
        raise ValueError(f"LAPGAN: {levels} levels need a latent of at least {levels} "
                         f"dimensions; got {z.shape[-1]}")
    return jnp.array_split(z, levels, axis=-1)


class CoarseGenerator(nn.Module):
    shape: tuple[int, int, int]
    hidden: int = COARSE_G_HIDDEN

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        h, w, c = self.shape
        x = nn.relu(nn.Dense(self.hidden, kernel_init=normal_init)(z))
        x = nn.relu(nn.Dense(self.hidden, kernel_init=normal_init)(x))
        x = nn.Dense(h * w * c, kernel_init=normal_init)(x)
        return nn.sigmoid(jnp.reshape(x, (z.shape[0], h, w, c)))


class ResidualGenerator(nn.Module):
    """(z_k, l_k) -> the band-pass residual at l_k's size."""

    width: int = WIDTH

    @nn.compact
    def __call__(self, z: jax.Array, cond: jax.Array) -> jax.Array:
        b, h, w, c = cond.shape
        noise = jnp.reshape(nn.Dense(h * w, kernel_init=normal_init, name="noise")(z),
                            (b, h, w, 1))
        x = jnp.concatenate([noise, cond], axis=-1)
        x = nn.relu(nn.Conv(self.width, (7, 7), padding="SAME", kernel_init=normal_init)(x))
        x = nn.relu(nn.Conv(self.width, (7, 7), padding="SAME", kernel_init=normal_init)(x))
        return nn.Conv(c, (5, 5), padding="SAME", kernel_init=normal_init)(x)


class LapganGenerator(nn.Module):
    """Latents [B, z] -> chained samples [B, h, w, c] in [0, 1]; :meth:`bands` gives every
    level's output for given conditioning images (training)."""

    image_shape: tuple[int, int, int]
    levels: int = LEVELS
    width: int = WIDTH

    def setup(self):
        sides = pyramid_sides(self.image_shape, self.levels)
        c = self.image_shape[2]
        self.coarse = CoarseGenerator((sides[0], sides[0], c))
        self.fine = [ResidualGenerator(self.width) for _ in range(self.levels - 1)]

    def bands(self, z: jax.Array, conds: tuple, train: bool = True) -> tuple:
        """[G_0(z_0), G_1(z_1, l_1), ...] with the given l_k (the real images' in training)."""
        zs = split_latent(z, self.levels)
        return (self.coarse(zs[0]),) + tuple(
            g(zk, cond) for g, zk, cond in zip(self.fine, zs[1:], conds, strict=True))

    def chain(self, z: jax.Array) -> list[jax.Array]:
        """The sample at every level, coarsest first (unclipped)."""
        zs = split_latent(z, self.levels)
        images = [self.coarse(zs[0])]
        for g, zk in zip(self.fine, zs[1:], strict=True):
            cond = upsample(images[-1])
            images.append(cond + g(zk, cond))
        return images

    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        return jnp.clip(self.chain(z)[-1], 0.0, 1.0)


class CoarseDiscriminator(nn.Module):
    hidden: int = COARSE_D_HIDDEN

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Dense(self.hidden, kernel_init=normal_init)(flatten(x)))
        x = nn.relu(nn.Dense(self.hidden, kernel_init=normal_init)(x))
        return nn.Dense(1, kernel_init=normal_init)(x)[:, 0]


class ResidualDiscriminator(nn.Module):
    width: int = WIDTH

    @nn.compact
    def __call__(self, residual: jax.Array, cond: jax.Array) -> jax.Array:
        x = residual + cond  # eyescream's CAddTable: D_k sees the level's full image
        x = nn.relu(nn.Conv(self.width, (5, 5), padding="VALID", kernel_init=normal_init)(x))
        x = nn.relu(nn.Conv(self.width, (5, 5), strides=(2, 2), padding="VALID",
                            kernel_init=normal_init)(x))
        return nn.Dense(1, kernel_init=normal_init)(flatten(x))[:, 0]


class LapganDiscriminator(nn.Module):
    """(bands, conds) -> the logits of every level, concatenated: [L * B], level 0 first. An
    image batch [B, h, w, c] is read as its own pyramid (:func:`real_inputs`).

    A loss that averages over its inputs averages the levels' losses, so one loss on these
    logits is the levels' own losses summed (up to 1/L) with disjoint parameters.
    """

    image_shape: tuple[int, int, int]
    levels: int = LEVELS
    width: int = WIDTH

    def setup(self):
        pyramid_sides(self.image_shape, self.levels)
        self.coarse = CoarseDiscriminator()
        self.fine = [ResidualDiscriminator(self.width) for _ in range(self.levels - 1)]

    def __call__(self, inputs: tuple | jax.Array, train: bool) -> jax.Array:
        if not isinstance(inputs, tuple):  # an image batch: D on its own pyramid
            inputs = real_inputs(inputs, self.levels)
        bands, conds = inputs
        logits = [self.coarse(bands[0])] + [
            d(band, cond) for d, band, cond in zip(self.fine, bands[1:], conds, strict=True)]
        return jnp.concatenate(logits)


@register_architecture("lapgan")
class Lapgan(Architecture):
    """LAPGAN's pyramid of G and D (docs/protocol.md §13.3). Its D reads a pyramid, not an
    image, so only the ``multiscale`` family (the ``lapgan`` model) trains it."""

    family = "multiscale"

    def generator(self, facts: NetFacts) -> nn.Module:
        return LapganGenerator(tuple(facts.image_shape), width=scaled(WIDTH, facts))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return LapganDiscriminator(tuple(facts.image_shape), width=scaled(WIDTH, facts))

    def unsupported(self, image_shape: tuple[int, int, int]) -> str | None:
        try:
            pyramid_sides(image_shape)
        except ValueError as error:
            return str(error)
        return None
