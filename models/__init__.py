"""Architectures and models (recipes), each a registry filled by its own files
(:mod:`models.registry`): ``models/architectures/<name>.py`` and ``models/zoo/<name>.py``."""

from __future__ import annotations

import flax.linen as nn

from models import architectures, zoo  # noqa: F401  (importing them registers every member)
from models.architectures.began import BeganDiscriminator
from models.architectures.infogan import Discriminator, Generator
from models.architectures.vae import Encoder
from models.registry import (
    ARCHITECTURES,
    PAPER_MODELS,
    RECIPES,
    Z_DIM,
    Architecture,
    Model,
    architecture,
    check_architecture,
    check_needs,
    get,
    names,
    register_architecture,
    register_model,
)


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


__all__ = [
    "ARCHITECTURES", "PAPER_MODELS", "RECIPES", "Z_DIM", "Architecture", "BeganDiscriminator",
    "Discriminator", "Encoder", "Generator", "Model", "architecture", "check_architecture",
    "check_needs", "get", "make_discriminator", "make_generator", "names",
    "register_architecture", "register_model",
]
