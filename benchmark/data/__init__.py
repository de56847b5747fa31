"""The data-set registry: one line per data set, each a :class:`DatasetSpec` defined beside
its reader.

A loader returns an :class:`ImageDataset` of integer arrays (NHWC, uint8); the float pixel
value in [0, 1] is ``stored * pixel_scale``. The engine moves the train split to the device as
stored and converts each batch there (docs/protocol.md §5.1: pixels in [0, 1]).

To add a data set: write ``benchmark/data/<name>.py`` with its reader and a ``DatasetSpec``,
then add one line below.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.data import celeba, cifar10, mnist, oracle, triangles
from benchmark.data.base import DatasetSpec, ImageDataset
from benchmark.errors import UserError

REGISTRY: dict[str, DatasetSpec] = {
    "mnist": mnist.MNIST,
    "fashion_mnist": mnist.FASHION_MNIST,
    "cifar10": cifar10.CIFAR10,
    "celeba": celeba.CELEBA,
    "triangles": triangles.TRIANGLES,
    "oracle": oracle.ORACLE,
}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> DatasetSpec:
    """The registered data set ``name``, or a one-line error listing the known names."""
    if name not in REGISTRY:
        raise UserError(f"unknown data set {name!r}; choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def load(name: str, data_dir: str | Path | None = None, **kwargs) -> ImageDataset:
    """Load (and cache) data set ``name``; ``data_dir`` points at local original files."""
    return get(name).load(data_dir=data_dir, **kwargs)


def offering(needs: frozenset[str] | set[str]) -> list[str]:
    """Names of the data sets that offer everything in ``needs`` (e.g. {"images", "labels"})."""
    return [name for name, spec in REGISTRY.items() if not spec.lacks(needs)]


def require(name: str, needs: frozenset[str] | set[str], who: str) -> None:
    """One-line UserError unless data set ``name`` offers all ``who`` needs (a model asking
    for labels on the triangles, say); the message lists the data sets that do."""
    missing = get(name).lacks(needs)
    if missing:
        raise UserError(
            f"{who} needs {', '.join(sorted(missing))}, which {name} does not offer; "
            f"choose one of: {', '.join(offering(needs))}")


def titles() -> dict[str, str]:
    """Display titles in registry order (what ``reports`` is given to label data sets)."""
    return {name: spec.title for name, spec in REGISTRY.items()}


def device_bytes(ds: ImageDataset) -> int:
    """Accelerator memory the train split of a loaded data set takes on the device as uint8."""
    return int(ds.train.size) * ds.train.dtype.itemsize


__all__ = ["REGISTRY", "DatasetSpec", "ImageDataset", "device_bytes", "get", "load", "names",
           "offering", "require", "titles"]
