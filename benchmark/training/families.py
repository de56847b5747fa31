"""The model-family registry: which :class:`~benchmark.training.base.Family` trains a loss of
each ``kind`` (``losses.base.GanLoss.kind`` / ``VaeLoss.kind``). One line per family."""

from __future__ import annotations

from benchmark.training import gan, vae
from benchmark.training.base import Family, Structure

FAMILIES: dict[str, Family] = {
    "gan": gan.FAMILY,
    "vae": vae.FAMILY,
}


def family(structure: Structure) -> Family:
    """The family that trains the structure's loss (``loss.kind``)."""
    return FAMILIES[structure.loss.kind]
