"""The prepared-data cache: one folder per data set of uint8 .npy splits and a manifest.

Layout: ``<cache root>/datasets/<name>/{train,test[,validation]}.npy``, the class labels
``<split>_labels.npy`` (int32, one per image) where the data set has them, and
``manifest.json`` (source, origin, source checksums, shapes, array checksums of images and
labels, ``num_classes``, preparation version). Every file is written to a temporary name and
moved into place with ``os.replace``; the manifest is removed first and written last, so a
folder without a valid manifest is never used and an interrupted preparation leaves nothing
usable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from benchmark.data.base import LABEL_DTYPE, check_labels
from benchmark.errors import UserError
from benchmark.io import atomic_write, atomic_writer
from benchmark.io import cache_dir as default_cache_root

# Bump when the preparation of any data set changes; older caches are then rebuilt.
PREPARATION_VERSION = 1
MANIFEST = "manifest.json"


def dataset_dir(name: str, root: Path | None = None) -> Path:
    """``<root or paths.cache_dir()>/datasets/<name>``."""
    return Path(root if root is not None else default_cache_root()) / "datasets" / name


def array_sha256(array: np.ndarray, chunk_rows: int = 4096) -> str:
    """sha256 of an array's C-order bytes, hashed in chunks (works on memory maps)."""
    digest = hashlib.sha256()
    for start in range(0, max(len(array), 1), chunk_rows):
        digest.update(np.ascontiguousarray(array[start : start + chunk_rows]).tobytes())
    return digest.hexdigest()


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as .npy, atomically."""
    with atomic_writer(path) as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def save_json(path: Path, obj: dict) -> None:
    """Write ``obj`` to ``path`` as JSON, atomically."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_manifest(folder: Path) -> dict | None:
    """The manifest in ``folder`` if present, parseable and of this preparation version."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("preparation_version") != PREPARATION_VERSION:
        return None
    return manifest


# Files whose bytes this process has checked against their manifest: (path, size, mtime).
_VERIFIED: set[tuple[str, int, int]] = set()


def _entries(manifest: dict) -> dict[str, dict]:
    """Every cached array's manifest entry by its ImageDataset field name: the image splits
    ("train", ...) and their labels ("train_labels", ...)."""
    labels = manifest.get("labels") or {}
    return {**manifest["splits"], **{f"{split}_labels": meta for split, meta in labels.items()}}


def load(folder: Path, *, check: bool = True) -> tuple[dict[str, np.ndarray], dict] | None:
    """Memory-mapped arrays and the manifest, or None when the cache is absent or stale.

    The arrays are keyed by :class:`~benchmark.data.base.ImageDataset` field: the splits
    ("train", "test", "validation") and their labels ("train_labels", ...) where cached.
    Shapes and dtypes are checked against the manifest, and (``check``) every file's bytes
    against the manifest's sha256 once per process and file: a damaged cache is a one-line
    UserError saying to delete the folder, after which the next run prepares it again.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    arrays = {}
    for key, meta in _entries(manifest).items():
        path = folder / meta["file"]
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        if list(array.shape) != meta["shape"] or str(array.dtype) != meta["dtype"]:
            return None
        stat = path.stat()
        stamp = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if check and stamp not in _VERIFIED:
            if array_sha256(array) != meta["sha256"]:
                what = key.replace("_", " ") if key.endswith("_labels") else f"{key} split"
                raise UserError(
                    f"the cached {manifest.get('name', folder.name)} {what} ({path}) "
                    f"does not match its manifest's sha256, so it is damaged; delete the folder "
                    f"{folder} and rerun: the data set is prepared again from its source")
            _VERIFIED.add(stamp)
        arrays[key] = array
    return arrays, manifest


def verify(folder: Path) -> list[str]:
    """Names of the cached arrays ("train", "test_labels", ...) whose content no longer
    matches the manifest's sha256 (["manifest"] when the cache cannot be read)."""
    loaded = load(folder, check=False)
    if loaded is None:
        return ["manifest"]
    arrays, manifest = loaded
    entries = _entries(manifest)
    return [k for k, a in arrays.items() if array_sha256(a) != entries[k]["sha256"]]


def _entry(file: str, array: np.ndarray) -> dict:
    return {"file": file, "shape": list(array.shape), "dtype": str(array.dtype),
            "sha256": array_sha256(array)}


def save(
    folder: Path,
    name: str,
    splits: dict[str, np.ndarray],
    *,
    source: str,
    origin: str,
    source_checksums: dict[str, str],
    extra: dict | None = None,
    labels: dict[str, np.ndarray] | None = None,
    num_classes: int | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Write the splits, their labels and then the manifest; return what :func:`load` gives.

    ``labels`` maps a split to its class labels (stored int32, checked one per image and in
    [0, ``num_classes``)); the manifest's sha256 cover them as they cover the images.
    """
    labels = labels or {}
    for split, array in splits.items():
        if array.dtype != np.uint8 or array.ndim != 4:
            raise ValueError(
                f"{name}/{split}: expected uint8 NHWC, got {array.dtype} {array.shape}"
            )
    for split, array in labels.items():
        if split not in splits:
            raise ValueError(f"{name}/{split}: labels given for a split without images")
        check_labels(f"{name}/{split}", np.asarray(array), len(splits[split]), num_classes)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (folder / MANIFEST).unlink()
        meta, label_meta = {}, {}
        for split, array in splits.items():
            save_npy(folder / f"{split}.npy", array)
            meta[split] = _entry(f"{split}.npy", array)
        for split, array in labels.items():
            array = np.asarray(array, LABEL_DTYPE)
            save_npy(folder / f"{split}_labels.npy", array)
            label_meta[split] = _entry(f"{split}_labels.npy", array)
        manifest = {
            "name": name,
            "preparation_version": PREPARATION_VERSION,
            "source": source,
            "origin": origin,
            "source_checksums": source_checksums,
            "splits": meta,
            "labels": label_meta,
            "num_classes": num_classes,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(extra or {}),
        }
        save_json(folder / MANIFEST, manifest)
    except OSError as exc:
        raise UserError(
            f"cannot write the {name} cache in {folder} ({type(exc).__name__}: "
            f"{exc.strerror or exc}); free space there or set GAN_BENCHMARK_CACHE to a "
            "writable folder") from exc
    loaded = load(folder, check=False)  # just written and hashed
    assert loaded is not None, f"cache written to {folder} cannot be read back"
    return loaded
