"""The family registry: how each kind of model trains (``models.Model.family``). A family is
one file here that builds a :class:`~benchmark.training.base.Family` and registers it with
``@register_family("name")``; every module of this package is imported."""

from __future__ import annotations

from collections.abc import Callable

from benchmark.training.base import Family, Structure
from models.registry import import_all

FAMILIES: dict[str, Family] = {}


def register_family(name: str) -> Callable[[Callable[[], Family]], Callable[[], Family]]:
    """Decorator of a function ``() -> Family``: registers its family under ``name``."""

    def register(make: Callable[[], Family]) -> Callable[[], Family]:
        if name in FAMILIES:
            raise ValueError(f"family {name!r} is registered twice")
        FAMILIES[name] = make()
        return make

    return register


def family(structure: Structure) -> Family:
    """The family that trains the structure's model (``Model.family``)."""
    name = structure.recipe.family
    if name not in FAMILIES:
        raise ValueError(f"model {structure.model!r} names the unknown family {name!r}; "
                         f"registered: {', '.join(FAMILIES)}")
    return FAMILIES[name]


import_all(__name__, __path__)
