"""The four data sets through tensorflow-datasets (the optional ``tfds`` extra).

Reads with ``tfds.data_source`` (random-access ArrayRecord files, decoded with numpy and
Pillow: TensorFlow is needed only to *build* a data set, ``tfds build NAME
--file_format=array_record``, not to read it). CelebA images are taken as their original
JPEG bytes and prepared exactly as from the files (:mod:`benchmark.data.celeba`).

File order (docs/protocol.md §7.3: the reference set is the first 10,000 images of the reference
split in file order). TFDS stores examples sorted by ``md5(split name + str(key))`` where the key is
the index in the original files (MNIST, Fashion-MNIST, CIFAR-10) or the CelebA file name;
:func:`tfds_positions` recomputes that permutation and the arrays are put back in file order.
CIFAR-10's ``id`` feature and the published MNIST checksums verify it. The class labels
(tfds feature ``label``; MNIST, Fashion-MNIST and CIFAR-10) go through the same permutation
as their images (docs/protocol.md §5.6); CelebA's attributes are not read.
"""

from __future__ import annotations

import hashlib
import socket
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from benchmark.data.base import Prepared
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
# sha256 of the int32 labels in file order, from the published IDX label files.
FILE_ORDER_LABELS_SHA256 = {
    ("mnist", "train"): "ba2e26c82ab7a46fbcd5ec6de8eee4d541cf3829f5050669177da23b515defeb",
    ("mnist", "test"): "52aa149c856ca033d02e1d2e5cc61033b4c56ed4a56f0edc328206a178c42126",
    ("fashion_mnist", "train"): "d69b1d6e0b8064974aa5aecc2786f961b8b2be829ee3a39dd8989efee46cad5a",
    ("fashion_mnist", "test"): "53fdd09ed9cbcd893df0e3b0af7802f2d62457de11c87273d4b4186f4992a40c",
}
PUBLISHED_SIZES = {"train": 60000, "test": 10000}  # MNIST and Fashion-MNIST
# The tfds feature holding each data set's class label (None: the data set has none here).
LABEL_FEATURE: dict[str, str | None] = {
    "mnist": "label", "fashion_mnist": "label", "cifar10": "label", "celeba": None,
}


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


def _examples(source, decode=None, label: str | None = None):
    """All images (uint8) and, with ``label``, that feature as int32, in stored order."""
    first = source[0]["image"]
    first = decode(first) if decode else np.asarray(first)
    out = np.empty((len(source), *first.shape), np.uint8)
    labels = np.empty(len(source), np.int32) if label else None
    for i in range(len(source)):
        example = source[i]
        image = example["image"]
        out[i] = decode(image) if decode else image
        if labels is not None:
            labels[i] = int(example[label])
    return out, labels


def _cifar_index(example_id) -> int:
    text = example_id.decode() if isinstance(example_id, bytes) else str(example_id)
    return int(text.rsplit("_", 1)[-1])


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _verify(name: str, split: str, array: np.ndarray, source,
            labels: np.ndarray | None = None) -> str:
    """How the restored order was checked: 'verified', 'unverified' or 'failed'.

    MNIST and Fashion-MNIST at full size: the images' (and labels') sha256 against the ones
    made from the published files. CIFAR-10: the stored ``id`` (index in the files) of
    every example against the predicted permutation.
    """
    expected = FILE_ORDER_SHA256.get((name, split))
    if expected and len(array) == PUBLISHED_SIZES[split]:
        ok = _sha256(array) == expected
        if labels is not None:
            ok = ok and _sha256(labels) == FILE_ORDER_LABELS_SHA256[(name, split)]
        return "verified" if ok else "failed"
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
    """One split as uint8 NHWC in file order (when restorable), its int32 labels (None where
    the data set has none) in the same order, and how order was checked.

    ``decode(raw bytes, where) -> image``: the data set's own decoding and preparation of an
    undecoded image (CelebA's crop and resize); None uses tfds's decoded images as they are.
    """
    label = LABEL_FEATURE.get(name)
    if decode is not None:

        def prepare(raw) -> np.ndarray:
            return decode(bytes(raw), f"{tfds_name}/{split}")

        source = _open(tfds_name, split, skip_image_decoding=True)
        counts[split] = len(source)
        stored, stored_labels = _examples(source, prepare, label)
        keys: Sequence = celeba_keys(split, counts)  # earlier splits are already counted
    else:
        source = _open(tfds_name, split, skip_image_decoding=False)
        counts[split] = len(source)
        stored, stored_labels = _examples(source, label=label)
        keys = range(len(stored))
    positions = tfds_positions(keys, split)
    restored = to_file_order(stored, positions)
    labels = None if stored_labels is None else to_file_order(stored_labels, positions)
    check = _verify(name, split, restored, source, labels)
    if check == "failed":
        warnings.warn(
            f"{name}/{split}: could not restore the original file order from "
            f"tensorflow-datasets; keeping the TFDS order", stacklevel=2
        )
        return stored, stored_labels, "tfds order (file order not restorable)"
    return restored, labels, f"file order ({check})"


def read_images(
    name: str, tfds_name: str, extra: dict | None = None, decode: Decode | None = None
) -> Prepared:
    """All splits of ``name`` from tensorflow-datasets with their labels (where the data set
    has them), the origin and the manifest extras (``extra``: what the data set's reader adds
    to every manifest, e.g. CelebA's crop; ``decode``: see :func:`read_split`)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise UserError(
            "tensorflow-datasets is not installed: pip install 'gan-benchmark[tfds]', "
            "or pass --data-dir with the original files"
        ) from exc
    counts: dict[str, int] = {}
    splits, labels, order = {}, {}, {}
    for split in SPLITS[name]:
        splits[split], split_labels, order[split] = read_split(name, tfds_name, split, counts,
                                                               decode)
        if split_labels is not None:
            labels[split] = split_labels
    extras = {"order": order, "tfds_version": tfds.__version__, **(extra or {})}
    return Prepared(splits, f"tfds:{tfds_name}", {}, extras, labels)
