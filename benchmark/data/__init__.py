"""The data-set registry: every data set is a name, an image shape and a loader.

A loader returns an :class:`ImageDataset` of integer arrays (NHWC, uint8); the float
pixel value in [0, 1] is ``stored * pixel_scale``. The engine moves the train split to the
device as stored and converts each batch there (PROTOCOL, Training: pixels in [0, 1]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.errors import UserError


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """The splits of one data set as stored integers; ``pixel_scale`` maps them to [0, 1]."""

    name: str
    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray | None = None
    pixel_scale: float = 1.0 / 255.0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    def as_float(self, images: np.ndarray) -> np.ndarray:
        """Stored integers -> float32 pixels in [0, 1]."""
        return images.astype(np.float32) * np.float32(self.pixel_scale)


Loader = Callable[..., ImageDataset]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts of a data set (PROTOCOL, Architecture and Training)."""

    name: str
    image_shape: tuple[int, int, int]
    loader: Loader
    train_steps: int  # the paper's number of D steps
    eval_every: int  # the paper's checkpoint/evaluation interval
    description: str = ""


_REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add a data set to the registry (one line per data set module)."""
    _REGISTRY[info.name] = info
    return info


def _ensure_registered() -> None:
    # Importing the modules registers them; kept lazy so `import benchmark.data` is cheap.
    from benchmark.data import triangles  # noqa: F401

    try:
        from benchmark.data import real  # noqa: F401
    except ImportError:  # pragma: no cover - real data sets are optional modules
        pass


def names() -> list[str]:
    _ensure_registered()
    return sorted(_REGISTRY)


def get_info(name: str) -> DatasetInfo:
    """The registered data set ``name``, or a one-line error listing the known names."""
    _ensure_registered()
    if name not in _REGISTRY:
        raise UserError(
            f"unknown data set {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def load(name: str, data_dir: str | Path | None = None, **kwargs) -> ImageDataset:
    """Load (and cache) data set ``name``; ``data_dir`` points at local original files."""
    return get_info(name).loader(data_dir=data_dir, **kwargs)
