"""CIFAR-10 from its original "python version" distribution (no TensorFlow).

``cifar-10-python.tar.gz`` (or the extracted ``cifar-10-batches-py/``) holds pickled
batches ``data_batch_1`` .. ``data_batch_5`` (train, 50k) and ``test_batch`` (10k); each
is a dict whose ``data`` is uint8 (N, 3072): the 1024 red, then green, then blue values
of a 32x32 image in row-major order, and whose ``labels`` is a list of N class indices
0..9 (``batches.meta``'s ``label_names``: airplane .. truck). docs/protocol.md §5.3: 50k
train / 10k test, 32x32x3; the train split is the five batches concatenated in order, file
order is kept, and each image keeps its label (§5.6).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from benchmark.data import real
from benchmark.data.base import DatasetSpec, Prepared
from benchmark.errors import UserError

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
LAYOUT_HINT = f"DIR or DIR/cifar10/ holding {ARCHIVE} or the extracted {FOLDER}/"
NUM_CLASSES = 10

# What a pickled batch may reference: numpy arrays, and bytes written under protocol 2.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: refuses any global outside ``_ALLOWED_GLOBALS``."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name}")
        return super().find_class(module, name)


def batch_to_nhwc(data: np.ndarray) -> np.ndarray:
    """(N, 3072) channel-planar rows -> (N, 32, 32, 3) uint8."""
    planar = np.asarray(data, np.uint8).reshape(-1, 3, 32, 32)
    return np.ascontiguousarray(planar.transpose(0, 2, 3, 1))


def parse_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (N, 32, 32, 3) uint8 images and (N,) int32 labels; UserError
    naming ``where`` if malformed."""
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        images = batch[b"data"]
        labels = batch[b"labels"]
    except Exception as exc:  # any failure to unpickle means a damaged file
        raise UserError(
            f"{where}: not a readable CIFAR-10 batch ({type(exc).__name__}: {exc}); "
            "the file is corrupted or truncated, download it again"
        ) from exc
    if not (
        isinstance(images, np.ndarray)
        and images.dtype == np.uint8
        and images.ndim == 2
        and images.shape[1] == 3072
        and len(labels) == len(images)
    ):
        raise UserError(
            f"{where}: expected uint8 data of shape (N, 3072) with N labels, got "
            f"{getattr(images, 'dtype', type(images))} {getattr(images, 'shape', '')}"
        )
    try:
        classes = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        classes = np.full(1, -1)
    if classes.ndim != 1 or (len(classes) and (classes.min() < 0 or classes.max() >= NUM_CLASSES)):
        raise UserError(f"{where}: labels are not class indices 0..{NUM_CLASSES - 1}; the file "
                        "is corrupted, download it again")
    return batch_to_nhwc(images), classes.astype(np.int32)


def find_source(data_dir: Path) -> Path:
    """The archive or extracted folder under data_dir (or data_dir/cifar10)."""
    for folder in (data_dir, data_dir / "cifar10", data_dir / "cifar-10"):
        for candidate in (folder / FOLDER, folder / ARCHIVE):
            if candidate.exists():
                return candidate
    if (data_dir / TEST_BATCHES[0]).is_file():
        return data_dir  # data_dir is the extracted folder itself
    raise UserError(f"cifar10: no {ARCHIVE} or {FOLDER}/ under {data_dir}; expected {LAYOUT_HINT}")


def _read_members(source: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The raw bytes of each batch file, from the extracted folder or from the archive."""
    if source.is_dir():
        missing = [n for n in names if not (source / n).is_file()]
        if missing:
            raise UserError(f"cifar10: {source} lacks {', '.join(missing)}; expected {LAYOUT_HINT}")
        try:
            return {n: (source / n).read_bytes() for n in names}
        except OSError as exc:
            raise UserError(f"cifar10: {exc.filename} cannot be read ({exc.strerror or exc}); "
                            "check its permissions") from exc
    try:
        with tarfile.open(source, "r:gz") as archive:
            out = {}
            for n in names:
                member = archive.extractfile(f"{FOLDER}/{n}")
                if member is None:
                    raise KeyError(n)
                out[n] = member.read()
            return out
    except KeyError as exc:
        raise UserError(f"{source}: the archive lacks {FOLDER}/{exc.args[0]}") from exc
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise UserError(
            f"{source}: cannot be read ({type(exc).__name__}: {exc}); the archive is "
            "corrupted or truncated, download it again"
        ) from exc


def read_images(
    data_dir: Path,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]]:
    """{"train", "test"} uint8 NHWC images in file order, their int32 labels, and the sha256
    of each batch file."""
    source = find_source(data_dir)
    raw = _read_members(source, TRAIN_BATCHES + TEST_BATCHES)
    where = {n: f"{source}/{n}" if source.is_dir() else f"{source}:{FOLDER}/{n}" for n in raw}
    parsed = {n: parse_batch(raw[n], where[n]) for n in raw}
    splits, labels = {}, {}
    for split, batches in (("train", TRAIN_BATCHES), ("test", TEST_BATCHES)):
        splits[split] = np.concatenate([parsed[n][0] for n in batches])
        labels[split] = np.concatenate([parsed[n][1] for n in batches])
    checksums = {n: hashlib.sha256(b).hexdigest() for n, b in raw.items()}
    return splits, labels, checksums


def _read_files(data_dir: Path) -> Prepared:
    splits, labels, checksums = read_images(data_dir)
    return Prepared(splits, str(data_dir), checksums, labels=labels)


CIFAR10 = DatasetSpec(
    name="cifar10", title="CIFAR-10", image_shape=(32, 32, 3),
    train_steps=78125, eval_every=3906,  # 100 * 50000 // 64; docs/protocol.md §4.5
    load=real.loader("cifar10", _read_files, LAYOUT_HINT, tfds_name="cifar10",
                     num_classes=NUM_CLASSES),
    splits={"train": 50000, "test": 10000},
    description="CIFAR-10: 32x32 colour, 10 classes, cifar-10-python.tar.gz or tfds 'cifar10'",
    offers=frozenset({"images", "labels"}),
    num_classes=NUM_CLASSES,
)
