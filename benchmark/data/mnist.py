"""MNIST and Fashion-MNIST from their original IDX distribution files.

docs/protocol.md §5.2: 60k train / 10k test, 28x28x1, file order kept; the class labels
(10 classes, 0..9) from ``*-labels-idx1-ubyte``, one per image in the same order
(docs/protocol.md §5.6). The published sha256 of each decompressed file is checked before
anything is used (``../shared/data/README.md`` lists them; they match the original
publications).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.data import real
from benchmark.data.base import DatasetSpec, Prepared
from benchmark.data.idx import PublishedFile, read
from benchmark.errors import UserError

PUBLISHED: dict[str, dict[str, PublishedFile]] = {
    "mnist": {
        "train_images": PublishedFile(
            "train-images-idx3-ubyte", 47040016,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train_labels": PublishedFile(
            "train-labels-idx1-ubyte", 60008,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "test_images": PublishedFile(
            "t10k-images-idx3-ubyte", 7840016,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "test_labels": PublishedFile(
            "t10k-labels-idx1-ubyte", 10008,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    "fashion_mnist": {
        "train_images": PublishedFile(
            "train-images-idx3-ubyte", 47040016,
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train_labels": PublishedFile(
            "train-labels-idx1-ubyte", 60008,
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "test_images": PublishedFile(
            "t10k-images-idx3-ubyte", 7840016,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "test_labels": PublishedFile(
            "t10k-labels-idx1-ubyte", 10008,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
}

# Sub-folders of --data-dir searched besides DIR itself (DIR/<alias>/ and DIR/<alias>/raw/).
ALIASES: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist", "MNIST"),
    "fashion_mnist": ("fashion_mnist", "fashion-mnist", "FashionMNIST"),
}


def layout_hint(name: str) -> str:
    """The expected --data-dir layout, for error messages."""
    files = ", ".join(f.stem + ".gz" for f in PUBLISHED[name].values())
    return f"DIR or DIR/{name}/ holding {files}"


def locate(data_dir: Path, name: str, stem: str) -> Path:
    """The path of distribution file ``stem`` (gzip preferred, raw accepted) under data_dir."""
    folders = [data_dir]
    for alias in ALIASES[name]:
        folders += [data_dir / alias, data_dir / alias / "raw"]
    for folder in folders:
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
    raise UserError(
        f"{name}: {stem}.gz not found under {data_dir}; expected {layout_hint(name)}"
    )


def read_split(data_dir: Path, name: str, split: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Images (N, 28, 28, 1) uint8, labels (N,) uint8 and {file: sha256} of one split."""
    files = PUBLISHED[name]
    images_path = locate(data_dir, name, files[f"{split}_images"].stem)
    labels_path = locate(data_dir, name, files[f"{split}_labels"].stem)
    images, images_sha = read(images_path, files[f"{split}_images"])
    labels, labels_sha = read(labels_path, files[f"{split}_labels"])
    checksums = {images_path.name: images_sha, labels_path.name: labels_sha}
    return images[..., None], labels, checksums


NUM_CLASSES = 10


def read_images(
    data_dir: Path, name: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]]:
    """{"train", "test"} uint8 NHWC images in file order, their int32 labels, and the sha256
    of every file read."""
    splits, labels, checksums = {}, {}, {}
    for split in ("train", "test"):
        images, split_labels, sums = read_split(data_dir, name, split)
        if len(split_labels) != len(images) or split_labels.ndim != 1:
            raise UserError(f"{name}/{split}: {split_labels.shape} labels for {len(images)} "
                            f"images in {data_dir}; the label file is not this split's")
        splits[split] = images
        labels[split] = split_labels.astype(np.int32)
        checksums.update(sums)
    return splits, labels, checksums


def _spec(name: str, title: str) -> DatasetSpec:
    def read_files(data_dir: Path) -> Prepared:
        splits, labels, checksums = read_images(data_dir, name)
        return Prepared(splits, str(data_dir), checksums, labels=labels)

    return DatasetSpec(
        name=name, title=title, image_shape=(28, 28, 1),
        train_steps=15625, eval_every=3906,  # 20 * 50000 // 64; docs/protocol.md §4.5
        load=real.loader(name, read_files, layout_hint(name), tfds_name=name,
                         num_classes=NUM_CLASSES),
        splits={"train": 60000, "test": 10000},
        description=f"{title}: 28x28 grey, 10 classes, IDX files or tfds {name!r}",
        offers=frozenset({"images", "labels"}),
        num_classes=NUM_CLASSES,
    )


MNIST = _spec("mnist", "MNIST")
FASHION_MNIST = _spec("fashion_mnist", "Fashion")
