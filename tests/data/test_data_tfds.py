"""The tensorflow-datasets path, with ``tfds.testing.mock_data`` (no TensorFlow, no network).

Skipped where tensorflow-datasets is not installed (the optional ``tfds`` extra).
"""

from __future__ import annotations

import io
import tempfile
import warnings

import numpy as np
import pytest
from PIL import Image

tfds = pytest.importorskip("tensorflow_datasets", reason="the optional tfds extra is not installed")

from benchmark import data  # noqa: E402
from benchmark.data import cache, celeba, tfds_source  # noqa: E402
from benchmark.errors import UserError  # noqa: E402


@pytest.mark.parametrize(
    ("split", "keys"),
    [("train", list(range(500))), ("validation", [f"{i:06d}.jpg" for i in range(162771, 163071)])],
)
def test_positions_match_the_tfds_shuffler(tmp_path, split, keys):
    from tensorflow_datasets.core import shuffle

    shuffler = shuffle.Shuffler(str(tmp_path), split, disable_shuffling=False)
    for index, key in enumerate(keys):
        shuffler.add(key, str(index).encode())
    written = [int(payload) for _hkey, payload in shuffler]
    assert tfds_source.tfds_positions(keys, split).tolist() == written


def test_to_file_order_inverts_the_permutation():
    positions = tfds_source.tfds_positions(range(20), "test")
    original = np.arange(20, dtype=np.uint8)[:, None, None, None]
    restored = tfds_source.to_file_order(original[positions], positions)
    np.testing.assert_array_equal(restored, original)


def test_celeba_keys_are_contiguous():
    counts = {"train": 3, "validation": 2, "test": 2}
    assert tfds_source.celeba_keys("validation", counts) == ["000004.jpg", "000005.jpg"]
    assert tfds_source.celeba_keys("test", counts) == ["000006.jpg", "000007.jpg"]


@pytest.mark.parametrize(
    ("name", "shape"),
    [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))],
)
def test_random_mock_data_end_to_end(tmp_path, name, shape):
    with tfds.testing.mock_data(num_examples=6), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random mock ids cannot be put in file order
        ds = data.load(name, cache_dir=tmp_path, source="tfds")
    assert ds.train.shape == (6, *shape) and ds.test.shape == (6, *shape)
    assert ds.train.dtype == np.uint8
    assert ds.labels("train").shape == (6,) and ds.labels("test").dtype == np.int32
    assert ds.num_classes == 10
    manifest = cache.read_manifest(cache.dataset_dir(name, tmp_path))
    assert manifest["source"] == "tfds" and manifest["origin"] == f"tfds:{name}"
    assert set(manifest["order"]) == {"train", "test"}


def _file_order_images(n: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _fake_source(files: dict[str, list[dict]]):
    """An as_data_source_fn serving, per split, the examples in TFDS's stored order."""

    def as_data_source(builder, split, **kwargs):
        return files[split]

    return as_data_source


def _file_order_labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(0, 10, n)


def test_mnist_is_put_back_in_file_order(tmp_path):
    original = {s: _file_order_images(n, (28, 28, 1), n) for s, n in (("train", 40), ("test", 9))}
    labels = {s: _file_order_labels(len(a), len(a)) for s, a in original.items()}
    stored = {
        s: [{"image": a[p], "label": np.int64(labels[s][p])}
            for p in tfds_source.tfds_positions(range(len(a)), s)]
        for s, a in original.items()
    }
    with tfds.testing.mock_data(as_data_source_fn=_fake_source(stored)):
        ds = data.load("mnist", cache_dir=tmp_path, source="tfds")
    np.testing.assert_array_equal(ds.train, original["train"])
    np.testing.assert_array_equal(ds.test, original["test"])
    for split in ("train", "test"):  # the labels went through the same permutation
        np.testing.assert_array_equal(ds.labels(split), labels[split])
    manifest = cache.read_manifest(cache.dataset_dir("mnist", tmp_path))
    assert manifest["order"] == dict.fromkeys(("train", "test"), "file order (unverified)")
    assert manifest["num_classes"] == 10 and set(manifest["labels"]) == {"train", "test"}


def test_cifar10_order_is_verified_by_ids(tmp_path):
    original = {s: _file_order_images(n, (32, 32, 3), n) for s, n in (("train", 30), ("test", 12))}
    labels = {s: _file_order_labels(len(a), len(a)) for s, a in original.items()}
    stored = {
        s: [
            {"image": a[p], "label": int(labels[s][p]), "id": f"{s}_{p:05d}".encode()}
            for p in tfds_source.tfds_positions(range(len(a)), s)
        ]
        for s, a in original.items()
    }
    with tfds.testing.mock_data(as_data_source_fn=_fake_source(stored)):
        ds = data.load("cifar10", cache_dir=tmp_path, source="tfds")
    np.testing.assert_array_equal(ds.train, original["train"])
    np.testing.assert_array_equal(ds.labels("train"), labels["train"])
    np.testing.assert_array_equal(ds.labels("test"), labels["test"])
    manifest = cache.read_manifest(cache.dataset_dir("cifar10", tmp_path))
    assert manifest["order"]["test"] == "file order (verified)"


def test_wrong_ids_keep_tfds_order_with_a_warning(tmp_path):
    images = _file_order_images(8, (32, 32, 3), 0)
    labels = _file_order_labels(8, 0)
    stored = [{"image": im, "label": labels[i], "id": f"train_{i:05d}"}
              for i, im in enumerate(images)]
    with tfds.testing.mock_data(as_data_source_fn=_fake_source({"train": stored, "test": stored})):
        with pytest.warns(UserWarning, match="could not restore the original file order"):
            ds = data.load("cifar10", cache_dir=tmp_path, source="tfds")
    np.testing.assert_array_equal(ds.train, images)
    np.testing.assert_array_equal(ds.labels("train"), labels)  # tfds order, still aligned


def _jpeg(level: int) -> bytes:
    y, x = np.mgrid[0:218, 0:178]
    image = np.clip(level + 8 * np.sin(y / 11.0) * np.cos(x / 7.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.stack([image] * 3, -1)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_celeba_from_tfds_equals_celeba_from_files(tmp_path):
    pytest.importorskip("simplejpeg")
    counts = {"train": 5, "validation": 2, "test": 3}
    names = [f"{i:06d}.jpg" for i in range(1, 11)]
    jpegs = {name: _jpeg(20 + 20 * i) for i, name in enumerate(names)}
    stored = {
        s: [{"image": jpegs[k[p]]} for p in tfds_source.tfds_positions(k, s)]
        for s in counts
        for k in [tfds_source.celeba_keys(s, counts)]
    }
    with tfds.testing.mock_data(as_data_source_fn=_fake_source(stored)):
        from_tfds = data.load("celeba", cache_dir=tmp_path / "a", source="tfds")
    folder = tmp_path / "files" / celeba.FOLDER
    folder.mkdir(parents=True)
    for name, raw in jpegs.items():
        (folder / name).write_bytes(raw)
    partition = ["0"] * 5 + ["1"] * 2 + ["2"] * 3
    (tmp_path / "files" / celeba.PARTITION).write_text(
        "".join(f"{n} {p}\n" for n, p in zip(names, partition, strict=True))
    )
    from_files = data.load("celeba", tmp_path / "files", cache_dir=tmp_path / "b", source="files")
    assert from_tfds.labels("train") is None and from_files.labels("train") is None
    for split in ("train", "validation", "test"):
        assert getattr(from_tfds, split).shape == (counts[split], 64, 64, 3)
        np.testing.assert_array_equal(getattr(from_tfds, split), getattr(from_files, split))


def test_tfds_failure_is_one_line_with_the_build_command(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve host\nmore detail")

    monkeypatch.setattr(tfds, "data_source", offline)
    from benchmark.data import tfds_source

    # offline (the probe fails): at once, without tfds's minutes of download retries
    monkeypatch.setattr(tfds_source, "online", lambda: False)
    with pytest.raises(UserError) as err:
        data.load("fashion_mnist", cache_dir=tmp_path, source="tfds")
    message = str(err.value)
    assert "tfds build fashion_mnist --file_format=array_record" in message
    assert "offline" in message and "\n" not in message
    # online, but the download or build fails: tfds's reason, in one line
    monkeypatch.setattr(tfds_source, "online", lambda: True)
    with pytest.raises(UserError) as err:
        data.load("fashion_mnist", cache_dir=tmp_path, source="tfds")
    message = str(err.value)
    assert "tfds build fashion_mnist --file_format=array_record" in message
    assert "ConnectionError: Failed to resolve host" in message and "\n" not in message
    assert cache.load(cache.dataset_dir("fashion_mnist", tmp_path)) is None


def test_auto_prefers_files_then_tfds(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_BENCHMARK_DATA_DIR", raising=False)
    with tfds.testing.mock_data(num_examples=2), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = data.load("mnist", cache_dir=tmp_path)
    assert ds.train.shape == (2, 28, 28, 1)
    assert cache.read_manifest(cache.dataset_dir("mnist", tmp_path))["source"] == "tfds"
    with tempfile.TemporaryDirectory() as empty:
        with pytest.raises(UserError, match="no cifar-10-python.tar.gz"):
            data.load("cifar10", empty, cache_dir=tmp_path)


def test_full_size_order_check_covers_the_labels(monkeypatch):
    images = _file_order_images(5, (28, 28, 1), 3)
    labels = np.array([4, 0, 9, 1, 1], np.int32)
    monkeypatch.setitem(tfds_source.PUBLISHED_SIZES, "train", 5)
    monkeypatch.setitem(tfds_source.FILE_ORDER_SHA256, ("mnist", "train"),
                        tfds_source._sha256(images))
    monkeypatch.setitem(tfds_source.FILE_ORDER_LABELS_SHA256, ("mnist", "train"),
                        tfds_source._sha256(labels))
    assert tfds_source._verify("mnist", "train", images, None, labels) == "verified"
    swapped = labels[[1, 0, 2, 3, 4]]  # images in order, two labels exchanged
    assert tfds_source._verify("mnist", "train", images, None, swapped) == "failed"
