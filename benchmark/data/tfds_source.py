"""The four data sets through tensorflow-datasets (the optional ``tfds`` extra).

Reads with ``tfds.data_source`` (random-access ArrayRecord files, decoded with numpy and
Pillow: TensorFlow is needed only to *build* a data set, ``tfds build NAME
--file_format=array_record``, not to read it). CelebA images are taken as their original
JPEG bytes and prepared exactly as from the files (:mod:`benchmark.data.celeba`).

File order (docs/protocol.md §7.3: the reference set is the first 10,000 images of the reference
split in file order). TFDS stores examples sorted by ``md5(split name + str(key))`` where the key is
the index in the original files (MNIST, Fashion-MNIST, CIFAR-10) or the CelebA file name;
:func:`tfds_positions` recomputes that permutation and the arrays are put back in file order.
CIFAR-10's ``id`` feature and the published MNIST checksums verify it.
"""

from __future__ import annotations

import hashlib
import socket
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from benchmark.errors import UserError

SPLITS = {
    "mnist": ("train", "test"),
    "fashion_mnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "celeba": ("train", "validation", "test"),
}

# sha256 of the uint8 NHWC arrays in file order, made from the published IDX files
# (checked against the published file checksums, ../shared/data/README.md).
FILE_ORDER_SHA256 = {
    ("mnist", "train"): "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    ("mnist", "test"): "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    ("fashion_mnist", "train"): "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    ("fashion_mnist", "test"): "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
}
PUBLISHED_SIZES = {"train": 60000, "test": 10000}  # MNIST and Fashion-MNIST


def tfds_positions(keys: Sequence[str | int], split: str) -> np.ndarray:
    """``p`` such that the i-th example TFDS stores is ``keys[p[i]]``.

    TFDS sorts examples by the 128-bit md5 of the split name followed by the key as
    text (tensorflow_datasets.core.hashing, salt = split name).
    """
    salted = hashlib.md5(split.encode())

    def digest(key: str | int) -> int:
        h = salted.copy()
        h.update(str(key).encode())
        return int(h.hexdigest(), 16)

    hashes = [digest(k) for k in keys]
    return np.array(sorted(range(len(keys)), key=hashes.__getitem__), dtype=np.int64)


def to_file_order(stored: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Undo the TFDS permutation: ``out[positions[i]] = stored[i]``."""
    out = np.empty_like(stored)
    out[positions] = stored
    return out


def celeba_keys(split: str, counts: dict[str, int]) -> list[str]:
    """CelebA file names of a split: the partition is contiguous (train, validation, test)."""
    start = 1
    for name in ("train", "validation", "test"):
        if name == split:
            return [f"{i:06d}.jpg" for i in range(start, start + counts[name])]
        start += counts[name]
    raise KeyError(split)


def online(host: str = "storage.googleapis.com", timeout: float = 3.0) -> bool:
    """Whether ``host`` (tfds's download mirror) answers within ``timeout`` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _open(tfds_name: str, split: str, skip_image_decoding: bool):
    import tensorflow_datasets as tfds

    decoders = {"image": tfds.decode.SkipDecoding()} if skip_image_decoding else None
    try:
        return tfds.data_source(tfds_name, split=split, download=False, decoders=decoders)
    except Exception:  # not prepared yet: download it, unless offline (tfds would retry
        pass  # for minutes before failing)
    if not online():
        raise UserError(
            f"tensorflow-datasets has no prepared {tfds_name} and this machine is offline; "
            f"run `tfds build {tfds_name} --file_format=array_record` on a networked "
            "machine, or pass --data-dir with the original files"
        )
    try:
        return tfds.data_source(tfds_name, split=split, download=True, decoders=decoders)
    except Exception as exc:  # download, build or format errors all end here
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(
            f"tensorflow-datasets could not provide {tfds_name}/{split} "
            f"({type(exc).__name__}: {first_line}); on a networked machine run "
            f"`tfds build {tfds_name} --file_format=array_record` (needs tensorflow), "
            "or pass --data-dir with the original files"
        ) from exc


def _images(source, decode=None) -> np.ndarray:
    first = source[0]["image"]
    first = decode(first) if decode else np.asarray(first)
    out = np.empty((len(source), *first.shape), np.uint8)
    for i in range(len(source)):
        image = source[i]["image"]
        out[i] = decode(image) if decode else image
    return out


def _cifar_index(example_id) -> int:
    text = example_id.decode() if isinstance(example_id, bytes) else str(example_id)
    return int(text.rsplit("_", 1)[-1])


def _verify(name: str, split: str, array: np.ndarray, source) -> str:
    """How the restored order was checked: 'verified', 'unverified' or 'failed'.

    MNIST and Fashion-MNIST at full size: the array's sha256 against the one made from
    the published files. CIFAR-10: the stored ``id`` (index in the files) of every
    example against the predicted permutation.
    """
    expected = FILE_ORDER_SHA256.get((name, split))
    if expected and len(array) == PUBLISHED_SIZES[split]:
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        return "verified" if digest == expected else "failed"
    if name == "cifar10":
        try:
            indices = [_cifar_index(source[i]["id"]) for i in range(len(source))]
        except (KeyError, ValueError):
            return "failed"
        predicted = tfds_positions(range(len(indices)), split).tolist()
        return "verified" if indices == predicted else "failed"
    return "unverified"


Decode = Callable[[bytes, str], np.ndarray]


def read_split(name: str, tfds_name: str, split: str, counts: dict[str, int],
               decode: Decode | None = None):
    """One split as uint8 NHWC in file order (when restorable), and how order was checked.

    ``decode(raw bytes, where) -> image``: the data set's own decoding and preparation of an
    undecoded image (CelebA's crop and resize); None uses tfds's decoded images as they are.
    """
    if decode is not None:

        def prepare(raw) -> np.ndarray:
            return decode(bytes(raw), f"{tfds_name}/{split}")

        source = _open(tfds_name, split, skip_image_decoding=True)
        counts[split] = len(source)
        stored = _images(source, prepare)
        keys: Sequence = celeba_keys(split, counts)  # earlier splits are already counted
    else:
        source = _open(tfds_name, split, skip_image_decoding=False)
        counts[split] = len(source)
        stored = _images(source)
        keys = range(len(stored))
    restored = to_file_order(stored, tfds_positions(keys, split))
    check = _verify(name, split, restored, source)
    if check == "failed":
        warnings.warn(
            f"{name}/{split}: could not restore the original file order from "
            f"tensorflow-datasets; keeping the TFDS order", stacklevel=2
        )
        return stored, "tfds order (file order not restorable)"
    return restored, f"file order ({check})"


def read_images(
    name: str, tfds_name: str, extra: dict | None = None, decode: Decode | None = None
) -> tuple[dict[str, np.ndarray], str, dict]:
    """All splits of ``name`` from tensorflow-datasets, the origin string and manifest extras
    (``extra``: what the data set's reader adds to every manifest, e.g. CelebA's crop;
    ``decode``: see :func:`read_split`)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise UserError(
            "tensorflow-datasets is not installed: pip install 'gan-benchmark[tfds]', "
            "or pass --data-dir with the original files"
        ) from exc
    counts: dict[str, int] = {}
    splits, order = {}, {}
    for split in SPLITS[name]:
        splits[split], order[split] = read_split(name, tfds_name, split, counts, decode)
    return splits, f"tfds:{tfds_name}", {"order": order, "tfds_version": tfds.__version__,
                                          **(extra or {})}
