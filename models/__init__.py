"""Architectures and models (recipes), each a registry filled by its own files
(:mod:`models.registry`): ``models/architectures/<name>.py`` and ``models/zoo/<name>.py``.

Importing ``models`` loads the recipes, not JAX: the architectures (flax) load when one is first
asked for (:func:`models.registry.registered_architectures`), each objective when first used."""

from __future__ import annotations

from models import zoo  # noqa: F401  (importing it registers every recipe)
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
    registered_architectures,
)

__all__ = [
    "ARCHITECTURES", "PAPER_MODELS", "RECIPES", "Z_DIM", "Architecture", "Model", "architecture",
    "check_architecture", "check_needs", "get", "names",
    "register_architecture", "register_model", "registered_architectures",
]
