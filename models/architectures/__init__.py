"""The architecture registry's members: one file each, registered by
``@register_architecture("name")`` (:mod:`models.registry`); every module here is imported
(the first time :func:`models.registry.architectures` is called, or on import)."""

from __future__ import annotations

import flax.linen as nn

from models.registry import import_all

import_all(__name__, __path__)

from models.architectures.began import BeganDiscriminator  # noqa: E402  (registered above)
from models.architectures.infogan import Discriminator, Generator  # noqa: E402
from models.architectures.vae import Encoder  # noqa: E402


def make_generator(image_shape: tuple[int, int, int], activation: str = "lrelu") -> nn.Module:
    return Generator(tuple(image_shape), activation=activation)


def make_discriminator(
    architecture: str, image_shape: tuple[int, int, int], use_batch_norm: bool
) -> nn.Module:
    """The D of a GAN architecture: ``"infogan"`` (logits) or ``"began"`` (L1 errors)."""
    if architecture not in ("infogan", "began"):
        raise ValueError(f"unknown discriminator architecture {architecture!r}")
    if architecture == "infogan":
        return Discriminator(use_batch_norm)
    return BeganDiscriminator(tuple(image_shape), use_batch_norm)


__all__ = ["BeganDiscriminator", "Discriminator", "Encoder", "Generator", "make_discriminator",
           "make_generator"]
