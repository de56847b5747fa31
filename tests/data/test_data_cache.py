"""The prepared-data cache, source selection, and the errors for bad or missing files."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from benchmark import data
from benchmark.data import cache, idx, mnist, real
from benchmark.errors import UserError

SHARED = Path(
    os.environ.get("GAN_BENCHMARK_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data"
)
STEMS = [f.stem for f in mnist.PUBLISHED["mnist"].values()]


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(real.ENV_DATA_DIR, raising=False)


def _write_gz(path: Path, payload: bytes) -> None:
    path.write_bytes(gzip.compress(payload, compresslevel=1))


def _idx_images(n: int) -> bytes:
    header = bytes([0, 0, 8, 3]) + np.array([n, 28, 28], dtype=">u4").tobytes()
    return header + np.arange(n * 784, dtype=np.uint8).tobytes()


# --- the IDX format ---------------------------------------------------------------------


def test_idx_parse_reads_header_and_values():
    array = idx.parse(_idx_images(3))
    assert array.shape == (3, 28, 28) and array.dtype == np.uint8
    assert array[0, 0, :4].tolist() == [0, 1, 2, 3]
    assert array[2, 27, 27] == (3 * 784 - 1) % 256


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x00\x0d\x01" + bytes(8), "bad magic"),
        (_idx_images(3)[:-5], "promises 2352 values"),
        (bytes([0, 0, 8, 3, 0, 0]), "header truncated"),
    ],
)
def test_idx_parse_rejects_malformed(payload, message):
    with pytest.raises(UserError, match=message):
        idx.parse(payload, "x.idx")


# --- integrity of the distribution files ------------------------------------------------


def test_truncated_gzip_names_file_and_caches_nothing(tmp_path, no_env):
    folder = tmp_path / "data"
    folder.mkdir()
    whole = gzip.compress(_idx_images(10))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserError) as err:
        data.load("mnist", folder, cache_dir=tmp_path / "cache", source="files")
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and "truncated" in message
    assert "\n" not in message
    assert cache.load(cache.dataset_dir("mnist", tmp_path / "cache")) is None


def test_short_file_reports_expected_size(tmp_path, no_env):
    folder = tmp_path / "data"
    folder.mkdir()
    for stem in STEMS:
        _write_gz(folder / f"{stem}.gz", b"")
    _write_gz(folder / "train-images-idx3-ubyte.gz", _idx_images(10))
    with pytest.raises(UserError, match=r"7856 bytes after decompression, expected 47040016"):
        data.load("mnist", folder, cache_dir=tmp_path / "cache", source="files")


def test_corrupted_file_reports_expected_sha256(tmp_path, no_env):
    folder = tmp_path / "data"
    folder.mkdir()
    expected = mnist.PUBLISHED["fashion_mnist"]["train_images"]
    for stem in STEMS:
        _write_gz(folder / f"{stem}.gz", b"")
    _write_gz(folder / "train-images-idx3-ubyte.gz", bytes(expected.size))
    with pytest.raises(UserError) as err:
        data.load("fashion_mnist", folder, cache_dir=tmp_path / "cache", source="files")
    assert f"expected {expected.sha256}" in str(err.value)
    assert "train-images-idx3-ubyte.gz" in str(err.value)
    assert not (cache.dataset_dir("fashion_mnist", tmp_path / "cache") / "manifest.json").exists()


@pytest.mark.skipif(
    not (SHARED / "mnist" / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST files not found in {SHARED}",
)
def test_one_corrupted_label_file_among_real_files(tmp_path, no_env):
    folder = tmp_path / "data"
    folder.mkdir()
    for stem in STEMS:
        (folder / f"{stem}.gz").symlink_to(SHARED / "mnist" / f"{stem}.gz")
    original = (SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    labels = bytearray(gzip.decompress(original))
    labels[-1] ^= 1
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    _write_gz(folder / "t10k-labels-idx1-ubyte.gz", bytes(labels))
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte.gz: sha256 .* expected ff7bcfd4"):
        data.load("mnist", folder, cache_dir=tmp_path / "cache", source="files")
    assert not (cache.dataset_dir("mnist", tmp_path / "cache")).joinpath("train.npy").exists()


# --- missing data -----------------------------------------------------------------------


def test_missing_files_name_the_layout(tmp_path, no_env):
    with pytest.raises(UserError) as err:
        data.load("mnist", tmp_path, cache_dir=tmp_path / "cache", source="files")
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz not found" in message
    assert "t10k-labels-idx1-ubyte.gz" in message and "\n" not in message


def test_nothing_available_names_tfds_command_and_layout(tmp_path, no_env, monkeypatch):
    monkeypatch.setattr(real, "tfds_available", lambda: False)
    for name, command in [("mnist", "tfds build mnist"), ("celeba", "tfds build celeb_a")]:
        with pytest.raises(UserError) as err:
            data.load(name, cache_dir=tmp_path / "cache")
        message = str(err.value)
        assert command in message and "--data-dir" in message and real.ENV_DATA_DIR in message
        assert "\n" not in message


def test_source_files_without_dir_is_an_error(tmp_path, no_env):
    with pytest.raises(UserError, match="no data found"):
        data.load("cifar10", cache_dir=tmp_path / "cache", source="files")


def test_unknown_source_and_missing_dir(tmp_path):
    with pytest.raises(UserError, match="unknown data source 'web'"):
        data.load("mnist", cache_dir=tmp_path, source="web")
    with pytest.raises(UserError, match="does not exist"):
        data.load("mnist", tmp_path / "nope", cache_dir=tmp_path, source="files")


# --- source resolution ------------------------------------------------------------------


def test_resolve_source_order(tmp_path):
    env = {real.ENV_DATA_DIR: str(tmp_path)}
    assert real.resolve_source("mnist", "auto", tmp_path, {}, True) == ("files", tmp_path)
    assert real.resolve_source("mnist", "auto", None, env, True) == ("files", tmp_path)
    assert real.resolve_source("mnist", "auto", None, {}, True) == ("tfds", None)
    assert real.resolve_source("mnist", "tfds", tmp_path, env, True) == ("tfds", None)
    assert real.resolve_source("mnist", "files", None, env, False) == ("files", tmp_path)


def test_env_var_is_used_for_auto(tmp_path, monkeypatch):
    monkeypatch.setenv(real.ENV_DATA_DIR, str(tmp_path))
    with pytest.raises(UserError, match=f"not found under {tmp_path}"):
        data.load("mnist", cache_dir=tmp_path / "cache")


# --- the cache itself -------------------------------------------------------------------


def _splits() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "train": rng.integers(0, 256, (5, 4, 4, 1), dtype=np.uint8),
        "test": rng.integers(0, 256, (3, 4, 4, 1), dtype=np.uint8),
    }


def _labels() -> dict[str, np.ndarray]:
    """Labels for :func:`_splits`: distinct per image, so a misalignment shows."""
    return {"train": np.array([3, 1, 4, 1, 5]), "test": np.array([9, 2, 6])}


def test_cache_round_trip_is_memory_mapped(tmp_path):
    splits = _splits()
    folder = tmp_path / "datasets" / "toy"
    loaded, manifest = cache.save(
        folder, "toy", splits, source="files", origin="here", source_checksums={"a": "b"}
    )
    assert isinstance(loaded["train"], np.memmap) and not loaded["train"].flags.writeable
    np.testing.assert_array_equal(loaded["train"], splits["train"])
    assert manifest["splits"]["test"]["shape"] == [3, 4, 4, 1]
    assert manifest["splits"]["train"]["sha256"] == cache.array_sha256(splits["train"])
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "test.npy", "train.npy"]
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk["source_checksums"] == {"a": "b"} and on_disk["origin"] == "here"


def test_stale_or_damaged_cache_is_ignored(tmp_path):
    folder = tmp_path / "toy"
    cache.save(folder, "toy", _splits(), source="files", origin="", source_checksums={})
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["preparation_version"] = cache.PREPARATION_VERSION - 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert cache.load(folder) is None
    cache.save(folder, "toy", _splits(), source="files", origin="", source_checksums={})
    (folder / "test.npy").write_bytes((folder / "test.npy").read_bytes()[:-7])
    assert cache.load(folder) is None


def test_verify_detects_changed_content(tmp_path):
    folder = tmp_path / "toy"
    cache.save(folder, "toy", _splits(), source="files", origin="", source_checksums={})
    assert cache.verify(folder) == []
    array = np.load(folder / "train.npy", mmap_mode="r+")
    array[0, 0, 0, 0] ^= 1
    array.flush()
    del array
    assert cache.verify(folder) == ["train"]


def test_cache_rejects_non_uint8(tmp_path):
    with pytest.raises(ValueError, match="expected uint8 NHWC"):
        cache.save(
            tmp_path, "toy", {"train": np.zeros((2, 4, 4, 1), np.float32)},
            source="files", origin="", source_checksums={},
        )


def test_explicit_source_rebuilds_a_cache_from_another_source(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    cache.save(
        cache.dataset_dir("mnist", root), "mnist", _splits(),
        source="tfds", origin="tfds:mnist", source_checksums={}, labels=_labels(), num_classes=10,
    )
    assert data.load("mnist", cache_dir=root).train.shape == (5, 4, 4, 1)  # auto reuses
    other = {k: v + 1 for k, v in _splits().items()}
    other_labels = {k: 9 - v for k, v in _labels().items()}
    monkeypatch.setattr(mnist, "read_images",
                        lambda path, name: (other, other_labels, {"f": "x"}))
    ds = data.load("mnist", tmp_path, cache_dir=root, source="files")
    np.testing.assert_array_equal(ds.train, other["train"])
    np.testing.assert_array_equal(ds.labels("test"), other_labels["test"])
    assert cache.read_manifest(cache.dataset_dir("mnist", root))["source"] == "files"


def test_no_temporary_files_left(tmp_path):
    folder = tmp_path / "toy"
    cache.save(folder, "toy", _splits(), source="files", origin="", source_checksums={})
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- labels in the cache ----------------------------------------------------------------


def test_labels_round_trip_with_checksums_and_num_classes(tmp_path):
    folder = tmp_path / "toy"
    arrays, manifest = cache.save(folder, "toy", _splits(), source="files", origin="",
                                  source_checksums={}, labels=_labels(), num_classes=10)
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "test.npy", "test_labels.npy", "train.npy", "train_labels.npy"]
    for split, expected in _labels().items():
        stored = arrays[f"{split}_labels"]
        assert isinstance(stored, np.memmap) and stored.dtype == np.int32
        np.testing.assert_array_equal(stored, expected)
        meta = manifest["labels"][split]
        assert meta["shape"] == [len(expected)] and meta["dtype"] == "int32"
        assert meta["sha256"] == cache.array_sha256(expected.astype(np.int32))
    assert manifest["num_classes"] == 10
    reread, _ = cache.load(folder)
    np.testing.assert_array_equal(reread["train_labels"], _labels()["train"])


def test_tampered_labels_fail_the_checksum(tmp_path):
    folder = tmp_path / "toy"
    cache.save(folder, "toy", _splits(), source="files", origin="", source_checksums={},
               labels=_labels(), num_classes=10)
    stored = np.load(folder / "train_labels.npy", mmap_mode="r+")
    stored[0] = 7  # a label swapped, the images untouched
    stored.flush()
    del stored
    assert cache.verify(folder) == ["train_labels"]
    with pytest.raises(UserError) as err:
        cache.load(folder)
    message = str(err.value)
    assert "toy train labels" in message and "delete the folder" in message
    assert "\n" not in message


@pytest.mark.parametrize(("labels", "message"), [
    ({"train": np.zeros(4, np.int64)}, r"toy/train: \(4,\) labels for 5 images"),
    ({"train": np.array([0, 1, 2, 3, 10])}, r"toy/train: labels span 0..10, outside 0..9"),
    ({"validation": np.zeros(5, np.int64)}, "labels given for a split without images"),
])
def test_misaligned_labels_are_not_cached(tmp_path, labels, message):
    with pytest.raises(ValueError, match=message):
        cache.save(tmp_path / "toy", "toy", _splits(), source="files", origin="",
                   source_checksums={}, labels=labels, num_classes=10)
    assert not (tmp_path / "toy" / "manifest.json").exists()


def test_a_cache_without_labels_is_prepared_again(tmp_path, monkeypatch, no_env):
    root = tmp_path / "cache"
    old = cache.dataset_dir("mnist", root)
    cache.save(old, "mnist", _splits(), source="files", origin="", source_checksums={})
    monkeypatch.setattr(real, "tfds_available", lambda: False)
    with pytest.raises(UserError) as err:  # no source to rebuild from: say why in one line
        data.load("mnist", cache_dir=root)
    message = str(err.value)
    assert "has no labels (written by an older version)" in message and "--data-dir" in message
    assert "\n" not in message
    monkeypatch.setattr(mnist, "read_images",
                        lambda path, name: (_splits(), _labels(), {"f": "x"}))
    ds = data.load("mnist", tmp_path, cache_dir=root)
    assert ds.num_classes == 10
    np.testing.assert_array_equal(ds.labels("train"), _labels()["train"])
    assert cache.read_manifest(old)["labels"]["test"]["shape"] == [3]


def test_a_label_free_data_set_keeps_its_cache(tmp_path, monkeypatch, no_env):
    root = tmp_path / "cache"
    cache.save(cache.dataset_dir("celeba", root), "celeba", _splits(), source="files",
               origin="", source_checksums={})
    monkeypatch.setattr(real, "tfds_available", lambda: False)
    ds = data.load("celeba", cache_dir=root)  # no source needed: nothing to add
    assert ds.labels("train") is None and ds.num_classes is None


# --- hostile paths ----------------------------------------------------------------------


def test_cache_root_that_is_a_file_is_one_line(tmp_path, monkeypatch):
    from benchmark import io

    blocker = tmp_path / "cache.txt"
    blocker.write_text("not a folder")
    for value, why in [(blocker, "is a file, not a folder"),
                       (blocker / "sub", "cannot be created")]:
        monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(value))
        with pytest.raises(UserError) as err:
            io.cache_dir()
        assert why in str(err.value) and "GAN_BENCHMARK_CACHE" in str(err.value)
        assert "\n" not in str(err.value)
        with pytest.raises(UserError, match=why):
            data.load("triangles")


def test_cli_with_a_cache_root_that_is_a_file_exits_2(tmp_path, monkeypatch, capsys):
    from benchmark.cli import main as cli

    blocker = tmp_path / "cache.txt"
    blocker.write_text("")
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(blocker))
    out = tmp_path / "results"
    code = cli.main(["train", "--model", "ns_gan", "--dataset", "triangles", "--seeds", "0",
                     "--results-dir", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err
    assert not out.exists()


def test_data_dir_that_is_a_file_or_unreadable(tmp_path, monkeypatch, no_env):
    afile = tmp_path / "train-images-idx3-ubyte.gz"
    afile.write_bytes(b"")
    with pytest.raises(UserError, match="is a file, not a folder; pass --data-dir DIR"):
        data.load("mnist", afile, cache_dir=tmp_path / "cache", source="files")
    with pytest.raises(UserError, match=r"the data directory is empty \(''\)"):
        data.load("mnist", "", cache_dir=tmp_path / "cache", source="files")
    monkeypatch.setenv(real.ENV_DATA_DIR, str(afile))
    with pytest.raises(UserError, match=f"{real.ENV_DATA_DIR}"):
        data.load("cifar10", cache_dir=tmp_path / "cache")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", denied)  # root ignores chmod, so simulate EACCES
    with pytest.raises(UserError, match="cannot be read \\(Permission denied\\)"):
        real.data_folder("mnist", tmp_path)


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    def full(path, array):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "save_npy", full)
    with pytest.raises(UserError) as err:
        cache.save(tmp_path / "toy", "toy", _splits(), source="files", origin="",
                   source_checksums={})
    assert "No space left on device" in str(err.value) and "GAN_BENCHMARK_CACHE" in str(err.value)
    assert not (tmp_path / "toy" / "manifest.json").exists()
