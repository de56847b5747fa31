"""The study's four real data sets: MNIST, Fashion-MNIST, CIFAR-10 and CelebA.

Each is read once from its original distribution files (``source="files"``, no
TensorFlow) or from tensorflow-datasets (``source="tfds"``), prepared as the study did
(PROTOCOL, Training: splits, resolutions, CelebA crop and resize) and cached as uint8
.npy under ``<cache root>/datasets/<name>/`` (see :mod:`benchmark.data.cache`).

``source="auto"`` uses, in order: a valid cache; ``data_dir``; the folder named by
``$GAN_BENCHMARK_DATA_DIR``; tensorflow-datasets when installed; else a one-line
UserError saying how to get the data.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from benchmark.data import DatasetInfo, ImageDataset, cache, register
from benchmark.errors import UserError

ENV_DATA_DIR = "GAN_BENCHMARK_DATA_DIR"
SOURCES = ("auto", "files", "tfds")

# (name, tfds builder, image shape, train steps, eval every) -- PROTOCOL, Architecture and
# Training: 20*50000//64, 100*50000//64 and 40*162000//64 D steps; evaluate every 3906
# steps (CelebA 12656).
_FACTS: tuple[tuple[str, str, tuple[int, int, int], int, int], ...] = (
    ("mnist", "mnist", (28, 28, 1), 15625, 3906),
    ("fashion_mnist", "fashion_mnist", (28, 28, 1), 15625, 3906),
    ("cifar10", "cifar10", (32, 32, 3), 78125, 3906),
    ("celeba", "celeb_a", (64, 64, 3), 101250, 12656),
)
TFDS_NAMES: dict[str, str] = {name: tfds_name for name, tfds_name, *_ in _FACTS}


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Splits as prepared from one source, with what the manifest records about it."""

    splits: dict[str, np.ndarray]
    origin: str
    checksums: dict[str, str]
    extra: dict = dataclasses.field(default_factory=dict)


def _read_files(name: str, data_dir: Path) -> Prepared:
    """Prepare ``name`` from its original distribution files in ``data_dir``."""
    if name in ("mnist", "fashion_mnist"):
        from benchmark.data import mnist

        splits, sums = mnist.read_images(data_dir, name)
        return Prepared(splits, str(data_dir), sums)
    if name == "cifar10":
        from benchmark.data import cifar10

        splits, sums = cifar10.read_images(data_dir)
        return Prepared(splits, str(data_dir), sums)
    if name == "celeba":
        from benchmark.data import celeba

        splits, sums = celeba.read_images(data_dir)
        return Prepared(splits, str(data_dir), sums, celeba.manifest_extra())
    raise KeyError(name)


def _read_tfds(name: str) -> Prepared:
    """Prepare ``name`` from its tensorflow-datasets builder."""
    from benchmark.data import tfds_source

    splits, origin, extra = tfds_source.read_images(name, TFDS_NAMES[name])
    return Prepared(splits, origin, {}, extra)


def layout_hint(name: str) -> str:
    """The expected --data-dir layout of ``name``, for error messages."""
    if name in ("mnist", "fashion_mnist"):
        from benchmark.data import mnist

        return mnist.layout_hint(name)
    if name == "cifar10":
        from benchmark.data import cifar10

        return cifar10.LAYOUT_HINT
    from benchmark.data import celeba

    return celeba.LAYOUT_HINT


def tfds_available() -> bool:
    """Whether tensorflow-datasets can be imported (the optional ``tfds`` extra)."""
    return importlib.util.find_spec("tensorflow_datasets") is not None


def missing_data_message(name: str) -> str:
    """The one-line error for 'no cache, no files, no tfds'."""
    return (
        f"{name}: no data found; pass --data-dir DIR ({layout_hint(name)}) or set "
        f"${ENV_DATA_DIR} to DIR, or install the tfds extra "
        f"(pip install 'gan-benchmark[tfds]') and run "
        f"`tfds build {TFDS_NAMES[name]} --file_format=array_record` on a networked machine"
    )


def resolve_source(
    name: str,
    source: str,
    data_dir: str | Path | None,
    environ: Mapping[str, str],
    have_tfds: bool,
) -> tuple[str, Path | None]:
    """The concrete source ("files" with its folder, or "tfds") for a request."""
    if source not in SOURCES:
        raise UserError(f"unknown data source {source!r}; choose one of: {', '.join(SOURCES)}")
    folder = data_dir if data_dir is not None else environ.get(ENV_DATA_DIR) or None
    if source == "tfds":
        return "tfds", None
    if folder is not None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UserError(f"{name}: data directory {path} does not exist")
        return "files", path
    if source == "files" or not have_tfds:
        raise UserError(missing_data_message(name))
    return "tfds", None


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    source: str = "auto",
) -> ImageDataset:
    """Load data set ``name`` (prepared once, then memory-mapped from the cache).

    ``cache_dir`` is the cache root (default :func:`benchmark.paths.cache_dir`); the
    arrays live in ``<root>/datasets/<name>/``. A cache made from another source is
    reused by ``source="auto"`` and rebuilt when a source is named explicitly.
    """
    folder = cache.dataset_dir(name, cache_dir)
    if source not in SOURCES:
        raise UserError(f"unknown data source {source!r}; choose one of: {', '.join(SOURCES)}")
    cached = cache.load(folder)
    if cached is not None and source in ("auto", cached[1]["source"]):
        return _as_dataset(name, cached[0])
    concrete, path = resolve_source(name, source, data_dir, os.environ, tfds_available())
    prepared = _read_files(name, path) if concrete == "files" else _read_tfds(name)
    splits, _manifest = cache.save(
        folder,
        name,
        prepared.splits,
        source=concrete,
        origin=prepared.origin,
        source_checksums=prepared.checksums,
        extra=prepared.extra,
    )
    return _as_dataset(name, splits)


def _as_dataset(name: str, splits: dict[str, np.ndarray]) -> ImageDataset:
    return ImageDataset(
        name=name,
        train=splits["train"],
        test=splits["test"],
        validation=splits.get("validation"),
    )


def device_bytes(ds: ImageDataset) -> int:
    """Accelerator memory the train split takes when kept on the device as uint8."""
    return int(ds.train.size) * ds.train.dtype.itemsize


def expected_device_bytes(name: str) -> int:
    """:func:`device_bytes` from the PROTOCOL split sizes, without loading anything."""
    sizes = {"mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000, "celeba": 162770}
    info = _INFOS[name]
    return sizes[name] * int(np.prod(info.image_shape))


def _loader(name: str) -> Callable[..., ImageDataset]:
    def loader(
        data_dir: str | Path | None = None,
        *,
        cache_dir: Path | None = None,
        source: str = "auto",
    ) -> ImageDataset:
        return load_dataset(name, data_dir, cache_dir=cache_dir, source=source)

    loader.__name__ = f"load_{name}"
    loader.__doc__ = f"Load {name} (see :func:`load_dataset`)."
    return loader


load_mnist = _loader("mnist")
load_fashion_mnist = _loader("fashion_mnist")
load_cifar10 = _loader("cifar10")
load_celeba = _loader("celeba")

_INFOS: dict[str, DatasetInfo] = {
    name: register(
        DatasetInfo(
            name=name,
            image_shape=shape,
            loader=globals()[f"load_{name}"],
            train_steps=steps,
            eval_every=every,
            description=f"{name} (tfds: {tfds_name}); PROTOCOL, Training",
        )
    )
    for name, tfds_name, shape, steps, every in _FACTS
}
