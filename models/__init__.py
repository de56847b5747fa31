"""Network architectures: the InfoGAN-style G and D, the BEGAN autoencoder D and the VAE."""

from __future__ import annotations

import flax.linen as nn

from models.began import BeganDiscriminator
from models.infogan import Discriminator, Generator
from models.vae import Encoder

Z_DIM = 64  # docs/protocol.md §3.6


def make_generator(image_shape: tuple[int, int, int], activation: str = "lrelu") -> nn.Module:
    return Generator(tuple(image_shape), activation=activation)


def make_discriminator(
    architecture: str, image_shape: tuple[int, int, int], use_batch_norm: bool
) -> nn.Module:
    """The discriminator named by a loss: ``"infogan"`` (logits) or ``"began"`` (L1 errors)."""
    if architecture == "infogan":
        return Discriminator(use_batch_norm)
    if architecture == "began":
        return BeganDiscriminator(tuple(image_shape), use_batch_norm)
    raise ValueError(f"unknown discriminator architecture {architecture!r}")


__all__ = [
    "Z_DIM",
    "BeganDiscriminator",
    "Discriminator",
    "Encoder",
    "Generator",
    "make_discriminator",
    "make_generator",
]
