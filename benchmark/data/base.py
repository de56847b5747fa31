"""What a data set is: its facts (:class:`DatasetSpec`) and its arrays (:class:`ImageDataset`).

A spec is one entry of the registry in ``benchmark/data/__init__.py``; the engine (shapes,
steps, evaluation interval, loading), the evaluation (the FID reference split) and the
reports (titles, through the command line) read it. A data set with classes carries them
as int32 labels beside each split's images, and its spec says so (``offers``,
``num_classes``; docs/protocol.md §5.6).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

SPLITS = ("train", "test", "validation")
LABEL_DTYPE = np.int32  # what ImageDataset.labels() gives and the cache stores


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """The splits of one data set as stored integers; ``pixel_scale`` maps them to [0, 1]."""

    name: str
    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray | None = None
    pixel_scale: float = 1.0 / 255.0
    # Integer class labels per split, aligned with the images (None: the data set has none).
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    validation_labels: np.ndarray | None = None
    num_classes: int | None = None

    def __post_init__(self) -> None:
        """Labels are int32, one per image of their split, in [0, num_classes) (checked)."""
        for split in SPLITS:
            labels = getattr(self, f"{split}_labels")
            if labels is None:
                continue
            images = getattr(self, split)
            where = f"{self.name}/{split}"
            labels = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
            if images is None:
                raise ValueError(f"{where}: labels given for a split without images")
            if labels.dtype != LABEL_DTYPE:
                if not np.issubdtype(labels.dtype, np.integer):
                    raise ValueError(f"{where}: labels must be integers, got {labels.dtype}")
                labels = labels.astype(LABEL_DTYPE)
            object.__setattr__(self, f"{split}_labels", labels)
            check_labels(where, labels, len(images), self.num_classes)

    @property
    def has_labels(self) -> bool:
        """Whether every split holds labels (what a model that needs labels requires)."""
        return all(getattr(self, f"{s}_labels") is not None
                   for s in SPLITS if getattr(self, s) is not None)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> np.ndarray:
        """The split called ``name`` (train, test or validation)."""
        array = getattr(self, name, None)
        if array is None:
            raise ValueError(f"{self.name} has no {name!r} split")
        return array

    def labels(self, name: str) -> np.ndarray | None:
        """The class labels of split ``name`` (int32, aligned with its images), or None."""
        self.split(name)
        return getattr(self, f"{name}_labels", None)

    def take(self, name: str, index) -> tuple[np.ndarray, np.ndarray | None]:
        """Images ``split[index]`` and their labels (None without labels): one index for both,
        so a subset or a permutation keeps them aligned."""
        labels = self.labels(name)
        return self.split(name)[index], None if labels is None else labels[index]

    def head(self, n: int) -> ImageDataset:
        """The first ``n`` images of every split with their labels (smoke runs, tests)."""
        cut = {s: getattr(self, s)[:n] for s in SPLITS if getattr(self, s) is not None}
        cut |= {f"{s}_labels": getattr(self, f"{s}_labels")[:n] for s in SPLITS
                if getattr(self, f"{s}_labels") is not None}
        return dataclasses.replace(self, **cut)

    def as_float(self, images: np.ndarray) -> np.ndarray:
        """Stored integers -> float32 pixels in [0, 1]."""
        return images.astype(np.float32) * np.float32(self.pixel_scale)


def check_labels(where: str, labels: np.ndarray, count: int, num_classes: int | None) -> None:
    """One-line ValueError unless ``labels`` is 1-D, ``count`` long and in [0, num_classes)."""
    if labels.ndim != 1 or len(labels) != count:
        raise ValueError(f"{where}: {labels.shape} labels for {count} images; expected one each")
    if num_classes is None:
        raise ValueError(f"{where}: labels given without num_classes")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"{where}: labels span {int(labels.min())}..{int(labels.max())}, "
                         f"outside 0..{num_classes - 1}")


Loader = Callable[..., ImageDataset]  # (data_dir=None, *, cache_dir=None, source="auto")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Static facts of a data set (docs/protocol.md §5) and how to load it.

    ``splits`` gives each split's published size; ``fid_reference_split`` is the split whose
    first images are FID's reference (None: the data set is not scored with FID);
    ``sources`` names where ``load`` can read it from ("cache", "files", "tfds",
    "generated").
    """

    name: str
    title: str
    image_shape: tuple[int, int, int]
    train_steps: int  # the paper's number of D steps
    eval_every: int  # the paper's checkpoint/evaluation interval
    load: Loader
    splits: Mapping[str, int]
    fid_reference_split: str | None = "test"
    sources: tuple[str, ...] = ("cache", "files", "tfds")
    description: str = ""
    # What the data set offers a model ("images", "labels"); a model's needs must be a subset.
    offers: frozenset[str] = frozenset({"images"})
    num_classes: int | None = None

    def device_bytes(self) -> int:
        """Accelerator memory the train split takes on the device as uint8."""
        return int(self.splits["train"]) * int(np.prod(self.image_shape))

    def lacks(self, needs: frozenset[str] | set[str]) -> frozenset[str]:
        """What of ``needs`` ("images", "labels") this data set does not offer."""
        return frozenset(needs) - self.offers


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Splits as prepared from one source, with what the cache manifest records about it."""

    splits: dict[str, np.ndarray]
    origin: str
    checksums: dict[str, str]
    extra: dict = dataclasses.field(default_factory=dict)
    labels: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # split -> labels


FilesReader = Callable[[Path], Prepared]
