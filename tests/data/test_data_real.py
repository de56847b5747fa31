"""The real MNIST and Fashion-MNIST files (../shared/data beside the checkout).

Shapes, split sizes and label counts are the published ones (docs/protocol.md §5: 60k
train / 10k test); pixel values and sums pin the file order, which fixes the FID
reference set (the first 10,000 test images, docs/protocol.md §7.3).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmark import data
from benchmark.data import cache, mnist, tfds_source


def _shared_data() -> Path:
    env = os.environ.get("GAN_BENCHMARK_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


SHARED = _shared_data()
pytestmark = pytest.mark.skipif(
    not (SHARED / "mnist" / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST/Fashion-MNIST IDX files not found in {SHARED} "
    "(set GAN_BENCHMARK_SHARED_DATA to the folder holding mnist/ and fashion_mnist/)",
)

# name -> split -> (label counts, first label, last label, row 14 cols 10..17 of the
# first image, same of the last image, sum of all pixels)
KNOWN = {
    "mnist": {
        "train": (
            [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], 5, 8,
            [0, 0, 0, 81, 240, 253, 253, 119], [190, 196, 14, 2, 97, 254, 252, 146],
            1567298545,
        ),
        "test": (
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], 7, 6,
            [0, 0, 0, 0, 0, 0, 59, 249], [132, 64, 0, 0, 18, 43, 157, 171],
            264923200,
        ),
    },
    "fashion_mnist": {
        "train": (
            [6000] * 10, 9, 5,
            [0, 0, 237, 226, 217, 223, 222, 219], [34, 0, 3, 3, 0, 3, 0, 24],
            3431114169,
        ),
        "test": (
            [1000] * 10, 9, 5,
            [0, 0, 98, 136, 110, 109, 110, 162], [69, 128, 100, 120, 132, 123, 135, 171],
            573469082,
        ),
    },
}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def loaded(cache_root) -> dict[str, data.ImageDataset]:
    return {
        name: data.load(name, SHARED, cache_dir=cache_root, source="files")
        for name in ("mnist", "fashion_mnist")
    }


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_shapes_and_dtype(loaded, name):
    ds = loaded[name]
    assert ds.train.shape == (60000, 28, 28, 1)
    assert ds.test.shape == (10000, 28, 28, 1)
    assert ds.validation is None
    assert ds.train.dtype == np.uint8 and ds.test.dtype == np.uint8
    assert ds.image_shape == data.get(name).image_shape == (28, 28, 1)
    assert ds.pixel_scale == pytest.approx(1 / 255)
    assert float(ds.as_float(ds.train[:64]).max()) == 1.0


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_known_values_and_labels(loaded, name, split):
    counts, first_label, last_label, first_row, last_row, total = KNOWN[name][split]
    images = getattr(loaded[name], split)
    assert images[0, 14, 10:18, 0].tolist() == first_row
    assert images[-1, 14, 10:18, 0].tolist() == last_row
    assert int(images.sum(dtype=np.int64)) == total
    _, labels, sums = mnist.read_split(SHARED, name, split)
    assert np.bincount(labels).tolist() == counts
    assert (int(labels[0]), int(labels[-1])) == (first_label, last_label)
    published = mnist.PUBLISHED[name]
    assert sums[f"{published[f'{split}_images'].stem}.gz"] == published[f"{split}_images"].sha256
    assert sums[f"{published[f'{split}_labels'].stem}.gz"] == published[f"{split}_labels"].sha256


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_cached_labels_are_the_label_files(loaded, cache_root, name, split):
    """The labels the loader gives (and caches) are the IDX label files', in file order."""
    counts, first_label, last_label, *_ = KNOWN[name][split]
    labels = loaded[name].labels(split)
    assert labels.dtype == np.int32 and labels.shape == (len(getattr(loaded[name], split)),)
    assert np.bincount(labels, minlength=10).tolist() == counts
    assert (int(labels[0]), int(labels[-1])) == (first_label, last_label)
    assert loaded[name].num_classes == data.get(name).num_classes == 10
    # the constants the tfds path verifies its restored order against
    assert cache.array_sha256(labels) == tfds_source.FILE_ORDER_LABELS_SHA256[(name, split)]
    reread = data.load(name, cache_dir=cache_root)  # memory-mapped from the cache
    assert isinstance(reread.labels(split), np.memmap)
    np.testing.assert_array_equal(reread.labels(split), labels)


def test_mnist_digit_one_counts(loaded):
    """The published count of the digit 1: 6742 of the 60000 train, 1135 of the 10000 test."""
    assert int((loaded["mnist"].labels("train") == 1).sum()) == 6742
    assert int((loaded["mnist"].labels("test") == 1).sum()) == 1135


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_manifest_records_source_and_checksums(loaded, cache_root, name):
    folder = cache.dataset_dir(name, cache_root)
    manifest = cache.read_manifest(folder)
    assert manifest["source"] == "files"
    assert manifest["preparation_version"] == cache.PREPARATION_VERSION
    assert manifest["splits"]["train"]["shape"] == [60000, 28, 28, 1]
    expected = {f.stem + ".gz": f.sha256 for f in mnist.PUBLISHED[name].values()}
    assert manifest["source_checksums"] == expected
    assert manifest["num_classes"] == 10
    assert manifest["labels"]["train"]["shape"] == [60000]
    assert manifest["labels"]["test"]["dtype"] == "int32"
    assert cache.verify(folder) == []


def test_cached_arrays_are_memory_mapped_and_reused(loaded, cache_root, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(mnist, "read_images", fail)
    again = data.load("mnist", cache_dir=cache_root)  # auto: any valid cache
    assert isinstance(again.train, np.memmap)
    np.testing.assert_array_equal(again.test[:100], loaded["mnist"].test[:100])


def test_device_bytes(loaded):
    assert data.device_bytes(loaded["mnist"]) == 60000 * 28 * 28 == 47_040_000
    assert data.device_bytes(loaded["fashion_mnist"]) == data.get(
        "fashion_mnist"
    ).device_bytes()


def test_registry_facts():
    facts = {
        "mnist": ((28, 28, 1), 15625, 3906),
        "fashion_mnist": ((28, 28, 1), 15625, 3906),
        "cifar10": ((32, 32, 3), 78125, 3906),
        "celeba": ((64, 64, 3), 101250, 12656),
    }
    for name, (shape, steps, every) in facts.items():
        info = data.get(name)
        assert (info.image_shape, info.train_steps, info.eval_every) == (shape, steps, every)
    assert data.get("cifar10").device_bytes() == 153_600_000
    assert data.get("celeba").device_bytes() == 2_000_117_760
