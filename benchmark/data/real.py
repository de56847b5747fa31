"""Loading a real data set: prepared once from its original files or tensorflow-datasets,
then memory-mapped from the cache.

A data set is read from its original distribution files (``source="files"``, no
TensorFlow) or from tensorflow-datasets (``source="tfds"``), prepared as the study did
(docs/protocol.md §5: splits, resolutions, CelebA crop and resize) and cached as uint8
.npy under ``<cache root>/datasets/<name>/`` with the class labels where the data set has
them (docs/protocol.md §5.6; see :mod:`benchmark.data.cache`).

``source="auto"`` uses, in order: a valid cache; ``data_dir``; the folder named by
``$GAN_BENCHMARK_DATA_DIR``; tensorflow-datasets when installed; else a one-line
UserError saying how to get the data. Each reader module (mnist, cifar10, celeba) builds
its :class:`~benchmark.data.base.DatasetSpec` with :func:`loader`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from benchmark.data import cache, tfds_source
from benchmark.data.base import FilesReader, ImageDataset, Loader
from benchmark.errors import UserError

ENV_DATA_DIR = "GAN_BENCHMARK_DATA_DIR"
SOURCES = ("auto", "files", "tfds")


def tfds_available() -> bool:
    """Whether tensorflow-datasets can be imported."""
    return importlib.util.find_spec("tensorflow_datasets") is not None


def missing_data_message(name: str, layout_hint: str, tfds_name: str) -> str:
    """The one-line error for 'no cache, no files, no tfds'."""
    return (
        f"{name}: no data found; pass --data-dir DIR ({layout_hint}) or set "
        f"${ENV_DATA_DIR} to DIR, or install the tfds extra "
        f"(pip install 'gan-benchmark[tfds]') and run "
        f"`tfds build {tfds_name} --file_format=array_record` on a networked machine"
    )


def data_folder(name: str, folder: str | Path) -> Path:
    """``folder`` as a readable directory, or a one-line UserError saying what it is instead
    (--data-dir or $GAN_BENCHMARK_DATA_DIR naming nothing, a file, or a folder we cannot
    list)."""
    if not str(folder).strip():
        raise UserError(f"{name}: the data directory is empty (''); pass --data-dir DIR "
                        "naming the folder that holds the files")
    path = Path(folder).expanduser()
    if not path.exists():
        raise UserError(f"{name}: data directory {path} does not exist; pass --data-dir DIR "
                        f"(or set ${ENV_DATA_DIR}) to the folder holding the files")
    if not path.is_dir():
        raise UserError(f"{name}: data directory {path} is a file, not a folder; pass "
                        f"--data-dir DIR (or set ${ENV_DATA_DIR}) to the folder that holds it")
    try:
        next(path.iterdir(), None)
    except OSError as exc:
        raise UserError(f"{name}: data directory {path} cannot be read ({exc.strerror or exc}); "
                        "check its permissions") from exc
    return path


def resolve_source(
    name: str,
    source: str,
    data_dir: str | Path | None,
    environ: Mapping[str, str],
    have_tfds: bool,
    missing: str = "",
) -> tuple[str, Path | None]:
    """The concrete source ("files" with its folder, or "tfds") for a request; ``missing`` is
    the error message when there is none."""
    if source not in SOURCES:
        raise UserError(f"unknown data source {source!r}; choose one of: {', '.join(SOURCES)}")
    folder = data_dir if data_dir is not None else environ.get(ENV_DATA_DIR) or None
    if source == "tfds":
        return "tfds", None
    if folder is not None:
        return "files", data_folder(name, folder)
    if source == "files" or not have_tfds:
        raise UserError(missing or f"{name}: no data found; pass --data-dir DIR")
    return "tfds", None


def load_dataset(
    name: str,
    read_files: FilesReader,
    layout_hint: str,
    tfds_name: str,
    data_dir: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    source: str = "auto",
    manifest_extra: dict | None = None,
    tfds_decode: tfds_source.Decode | None = None,
    num_classes: int | None = None,
) -> ImageDataset:
    """Load data set ``name`` (prepared once, then memory-mapped from the cache).

    ``cache_dir`` is the cache root (default :func:`benchmark.io.cache_dir`); the
    arrays live in ``<root>/datasets/<name>/``. A cache made from another source is
    reused by ``source="auto"`` and rebuilt when a source is named explicitly. A data set
    with ``num_classes`` carries labels; a cache of it without labels (written before they
    were cached) is prepared again from its source, as one consistent write whose manifest
    covers images and labels.
    """
    folder = cache.dataset_dir(name, cache_dir)
    if source not in SOURCES:
        raise UserError(f"unknown data source {source!r}; choose one of: {', '.join(SOURCES)}")
    cached = cache.load(folder)
    stale = ""
    if cached is not None and num_classes is not None and not cached[1].get("labels"):
        stale = (f"the cached {name} in {folder} has no labels (written by an older version) "
                 "and must be prepared again; ")
        cached = None
    if cached is not None and source in ("auto", cached[1]["source"]):
        return _as_dataset(name, *cached)
    missing = missing_data_message(name, layout_hint, tfds_name)
    try:
        concrete, path = resolve_source(name, source, data_dir, os.environ, tfds_available(),
                                        missing)
    except UserError as err:
        raise UserError(f"{stale}{err}") from None
    if concrete == "files":
        prepared = read_files(path)
    else:
        prepared = tfds_source.read_images(name, tfds_name, manifest_extra, tfds_decode)
    if num_classes is not None and set(prepared.labels) != set(prepared.splits):
        raise UserError(f"{name}: {prepared.origin} gave labels for "
                        f"{sorted(prepared.labels) or 'no split'}, expected every split "
                        f"({', '.join(prepared.splits)})")
    arrays, manifest = cache.save(
        folder,
        name,
        prepared.splits,
        source=concrete,
        origin=prepared.origin,
        source_checksums=prepared.checksums,
        extra=prepared.extra,
        labels=prepared.labels,
        num_classes=num_classes if prepared.labels else None,
    )
    return _as_dataset(name, arrays, manifest)


def _as_dataset(name: str, arrays: dict, manifest: dict) -> ImageDataset:
    """The cached arrays (keyed by ImageDataset field) as an ImageDataset."""
    return ImageDataset(name=name, **arrays, num_classes=manifest.get("num_classes"))


def loader(name: str, read_files: FilesReader, layout_hint: str, tfds_name: str,
           manifest_extra: dict | None = None,
           tfds_decode: tfds_source.Decode | None = None,
           num_classes: int | None = None) -> Loader:
    """The ``DatasetSpec.load`` of a real data set: :func:`load_dataset` bound to its reader."""

    def load(data_dir: str | Path | None = None, *, cache_dir: Path | None = None,
             source: str = "auto") -> ImageDataset:
        return load_dataset(name, read_files, layout_hint, tfds_name, data_dir,
                            cache_dir=cache_dir, source=source, manifest_extra=manifest_extra,
                            tfds_decode=tfds_decode, num_classes=num_classes)

    load.__name__ = f"load_{name}"
    load.__doc__ = f"Load {name} (see :func:`load_dataset`)."
    return load
