"""CIFAR-10 and CelebA readers on small files written here in the real distribution formats.

CIFAR-10: pickled batch dicts (``data`` uint8 (N, 3072) channel-planar, ``labels``) in
``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``. CelebA: aligned 178x218 JPEGs in
``img_align_celeba/`` or ``img_align_celeba.zip`` plus ``list_eval_partition.txt``.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark import data
from benchmark.data import cache, celeba, cifar10
from benchmark.errors import UserError

# --- CIFAR-10 ---------------------------------------------------------------------------

SIZES = {**{f"data_batch_{i}": 2 for i in range(1, 6)}, "test_batch": 3}


def _batch_rows(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def _batch_labels(seed: int, n: int) -> list[int]:
    """A batch's labels as the real files hold them: a list of Python ints 0..9."""
    return [(3 * seed + 7 * i + 1) % 10 for i in range(n)]


def _batch_pickle(seed: int, n: int) -> bytes:
    batch = {
        b"batch_label": b"batch %d" % seed,
        b"labels": _batch_labels(seed, n),
        b"data": _batch_rows(seed, n),
        b"filenames": [b"img_%d.png" % i for i in range(n)],
    }
    return pickle.dumps(batch, protocol=2)


def _write_cifar_folder(root: Path) -> Path:
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True)
    for seed, (name, n) in enumerate(SIZES.items()):
        (folder / name).write_bytes(_batch_pickle(seed, n))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": []}, protocol=2))
    return folder


def _write_cifar_archive(root: Path) -> Path:
    source = _write_cifar_folder(root / "src")
    archive = root / cifar10.ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=cifar10.FOLDER)
    return archive


def test_cifar_planar_rows_become_nhwc():
    rows = _batch_rows(0, 2)
    images = cifar10.batch_to_nhwc(rows)
    assert images.shape == (2, 32, 32, 3)
    for n, r, c, ch in [(0, 0, 0, 0), (1, 31, 31, 2), (0, 5, 17, 1), (1, 30, 2, 0)]:
        assert images[n, r, c, ch] == rows[n, ch * 1024 + r * 32 + c]


@pytest.mark.parametrize("layout", ["archive", "folder", "nested"])
def test_cifar_layouts_give_file_order(tmp_path, layout):
    if layout == "archive":
        _write_cifar_archive(tmp_path)
        data_dir = tmp_path
    elif layout == "folder":
        _write_cifar_folder(tmp_path)
        data_dir = tmp_path
    else:
        _write_cifar_folder(tmp_path / "cifar10")
        data_dir = tmp_path
    ds = data.load("cifar10", data_dir, cache_dir=tmp_path / "cache", source="files")
    assert ds.train.shape == (10, 32, 32, 3) and ds.test.shape == (3, 32, 32, 3)
    assert ds.train.dtype == np.uint8 and ds.validation is None
    expected_train = np.concatenate([_batch_rows(seed, 2) for seed in range(5)])
    np.testing.assert_array_equal(ds.train, cifar10.batch_to_nhwc(expected_train))
    np.testing.assert_array_equal(ds.test, cifar10.batch_to_nhwc(_batch_rows(5, 3)))
    expected_labels = sum((_batch_labels(seed, 2) for seed in range(5)), [])
    assert ds.labels("train").tolist() == expected_labels
    assert ds.labels("test").tolist() == _batch_labels(5, 3)
    assert ds.labels("train").dtype == np.int32 and ds.num_classes == 10
    manifest = cache.read_manifest(cache.dataset_dir("cifar10", tmp_path / "cache"))
    assert manifest["source"] == "files" and manifest["num_classes"] == 10
    assert sorted(manifest["source_checksums"]) == sorted(SIZES)
    assert manifest["labels"]["train"]["shape"] == [10]
    again = data.load("cifar10", cache_dir=tmp_path / "cache")  # re-read from the cache
    assert isinstance(again.train_labels, np.memmap)
    assert again.labels("train").tolist() == expected_labels


@pytest.mark.parametrize(("labels", "why"), [
    ([0, 10], "labels are not class indices 0..9"),
    ([0, -1], "labels are not class indices 0..9"),
    ([b"a", b"b"], "labels are not class indices 0..9"),
    ([0], r"expected uint8 data of shape \(N, 3072\) with N labels"),
])
def test_cifar_bad_labels(tmp_path, labels, why):
    folder = _write_cifar_folder(tmp_path)
    bad = {b"data": _batch_rows(0, 2), b"labels": labels}
    (folder / "data_batch_4").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(UserError, match=f"data_batch_4: {why}"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")
    assert cache.load(cache.dataset_dir("cifar10", tmp_path / "cache")) is None


def test_cifar_missing_everything_names_the_layout(tmp_path):
    with pytest.raises(UserError, match="cifar-10-python.tar.gz or cifar-10-batches-py/"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_cifar_missing_batch(tmp_path):
    folder = _write_cifar_folder(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(UserError, match="lacks data_batch_3"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_cifar_truncated_archive_caches_nothing(tmp_path):
    archive = _write_cifar_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(UserError) as err:
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")
    assert "cifar-10-python.tar.gz" in str(err.value) and "truncated" in str(err.value)
    assert "\n" not in str(err.value)
    assert cache.load(cache.dataset_dir("cifar10", tmp_path / "cache")) is None


def test_cifar_truncated_batch(tmp_path):
    folder = _write_cifar_folder(tmp_path)
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="test_batch: not a readable CIFAR-10 batch"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_cifar_wrong_row_length(tmp_path):
    folder = _write_cifar_folder(tmp_path)
    bad = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (folder / "data_batch_1").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(UserError, match=r"data_batch_1: expected uint8 data of shape \(N, 3072\)"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")


class _Evil:
    def __reduce__(self):
        return (print, ("should not run",))


def test_cifar_refuses_pickles_that_call_code(tmp_path):
    folder = _write_cifar_folder(tmp_path)
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": _Evil()}, protocol=2))
    with pytest.raises(UserError, match=r"unexpected global \w+\.print"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")


# --- CelebA -----------------------------------------------------------------------------

# Partition as in list_eval_partition.txt: file order, 0 train, 1 validation, 2 test.
PARTITION = [("000001.jpg", 0), ("000002.jpg", 0), ("000003.jpg", 0), ("000004.jpg", 0),
             ("000005.jpg", 1), ("000006.jpg", 1), ("000007.jpg", 2), ("000008.jpg", 2)]


def _face(index: int) -> np.ndarray:
    """A smooth 218x178 image whose mean level identifies it (20 + 25 * index)."""
    y, x = np.mgrid[0:218, 0:178]
    level = 20 + 25 * index
    ramp = (np.sin(y / 17.0) + np.cos(x / 23.0)) * 6
    return np.clip(np.stack([level + ramp, level - ramp, np.full_like(ramp, level)], -1), 0, 255)


def _jpeg(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_face(index).astype(np.uint8)).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _partition_text() -> str:
    return "".join(f"{name} {split}\n" for name, split in PARTITION)


def _write_celeba_folder(root: Path) -> Path:
    folder = root / celeba.FOLDER
    folder.mkdir(parents=True)
    for index, (name, _split) in enumerate(PARTITION):
        (folder / name).write_bytes(_jpeg(index))
    (root / celeba.PARTITION).write_text(_partition_text())
    return folder


def _write_celeba_zip(root: Path, sub: str = "") -> Path:
    (root / sub).mkdir(parents=True, exist_ok=True)
    archive = root / sub / celeba.ARCHIVE
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{celeba.FOLDER}/", b"")
        for index, (name, _split) in enumerate(PARTITION):
            zf.writestr(f"{celeba.FOLDER}/{name}", _jpeg(index))
    return archive


def _expected(index: int) -> np.ndarray:
    """Independent of celeba.prepare: decode, crop rows 29..188 and cols 9..168, resize."""
    simplejpeg = pytest.importorskip("simplejpeg")
    from benchmark.data.resize import resize_bilinear_tf1

    decoded = simplejpeg.decode_jpeg(_jpeg(index), colorspace="RGB", fastdct=True)
    resized = resize_bilinear_tf1(decoded[None, 29:189, 9:169], 64, 64)[0]
    return np.rint(resized).astype(np.uint8)


@pytest.fixture(scope="module")
def celeba_from_folder(tmp_path_factory):
    pytest.importorskip("simplejpeg")
    root = tmp_path_factory.mktemp("celeba")
    _write_celeba_folder(root)
    ds = data.load("celeba", root, cache_dir=root / "cache", source="files")
    return root, ds


def test_celeba_splits_follow_the_partition_file(celeba_from_folder):
    _root, ds = celeba_from_folder
    assert ds.train.shape == (4, 64, 64, 3)
    assert ds.validation.shape == (2, 64, 64, 3)
    assert ds.test.shape == (2, 64, 64, 3)
    assert ds.image_shape == data.get("celeba").image_shape
    assert ds.labels("train") is None and ds.num_classes is None  # attributes are not read
    means = [float(a.mean()) for a in (*ds.train, *ds.validation, *ds.test)]
    np.testing.assert_allclose(means, [20 + 25 * i for i in range(8)], atol=1.5)
    for index, array in enumerate([*ds.train, *ds.validation, *ds.test]):
        np.testing.assert_array_equal(array, _expected(index))


def test_celeba_manifest(celeba_from_folder):
    root, _ds = celeba_from_folder
    manifest = cache.read_manifest(cache.dataset_dir("celeba", root / "cache"))
    assert manifest["splits"]["validation"]["shape"] == [2, 64, 64, 3]
    assert "centre crop 160x160" in manifest["preprocessing"]
    assert "INTEGER_FAST" in manifest["jpeg_decoder"]
    assert celeba.PARTITION in manifest["source_checksums"]


def test_celeba_zip_in_drive_layout_equals_folder(tmp_path, celeba_from_folder):
    _root, from_folder = celeba_from_folder
    _write_celeba_zip(tmp_path, "Img")
    (tmp_path / "Eval").mkdir()
    (tmp_path / "Eval" / celeba.PARTITION).write_text(_partition_text())
    ds = data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(ds, split), getattr(from_folder, split))


def test_celeba_parse_partition_rejects_bad_lines():
    assert celeba.parse_partition("a.jpg 0\n\nb.jpg 2\n") == [("a.jpg", "train"), ("b.jpg", "test")]
    with pytest.raises(UserError, match="line 2 is 'b.jpg 3'"):
        celeba.parse_partition("a.jpg 0\nb.jpg 3\n")


def test_celeba_missing_partition_names_layout(tmp_path):
    _write_celeba_folder(tmp_path)
    (tmp_path / celeba.PARTITION).unlink()
    with pytest.raises(UserError, match="no list_eval_partition.txt under"):
        data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_celeba_missing_image(tmp_path):
    pytest.importorskip("simplejpeg")
    folder = _write_celeba_folder(tmp_path)
    (folder / "000006.jpg").unlink()
    with pytest.raises(UserError, match="000006.jpg is missing"):
        data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_celeba_truncated_jpeg_caches_nothing(tmp_path):
    pytest.importorskip("simplejpeg")
    folder = _write_celeba_folder(tmp_path)
    raw = (folder / "000003.jpg").read_bytes()
    (folder / "000003.jpg").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError) as err:
        data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")
    assert "000003.jpg: cannot decode" in str(err.value) and "\n" not in str(err.value)
    assert cache.load(cache.dataset_dir("celeba", tmp_path / "cache")) is None


def test_celeba_truncated_zip(tmp_path):
    archive = _write_celeba_zip(tmp_path)
    archive.write_bytes(archive.read_bytes()[:-300])
    (tmp_path / celeba.PARTITION).write_text(_partition_text())
    with pytest.raises(UserError, match="img_align_celeba.zip: not a readable zip"):
        data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_celeba_corrupted_member_in_zip(tmp_path):
    archive = _write_celeba_zip(tmp_path)
    raw = bytearray(archive.read_bytes())
    offset = raw.find(b"\xff\xd8", 100)  # inside the first JPEG's stored bytes
    raw[offset + 400] ^= 0xFF
    archive.write_bytes(bytes(raw))
    (tmp_path / celeba.PARTITION).write_text(_partition_text())
    with pytest.raises(UserError, match="corrupted in the archive"):
        data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_unreadable_batch_file_is_one_line(tmp_path, monkeypatch):
    _write_cifar_folder(tmp_path)
    real_read = Path.read_bytes

    def denied(self):
        if self.name == "data_batch_2":  # root ignores chmod, so simulate EACCES
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(UserError, match=r"data_batch_2 cannot be read \(Permission denied\)"):
        data.load("cifar10", tmp_path, cache_dir=tmp_path / "cache", source="files")


def test_unreadable_partition_file_is_one_line(tmp_path, monkeypatch):
    _write_celeba_folder(tmp_path)
    real_read = Path.read_bytes

    def denied(self):
        if self.name == celeba.PARTITION:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(UserError, match=r"list_eval_partition.txt cannot be read"):
        data.load("celeba", tmp_path, cache_dir=tmp_path / "cache", source="files")
