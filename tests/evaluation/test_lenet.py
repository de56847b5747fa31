"""FID-LeNet: the project-trained domain classifier and the FID of its features.

Trains each classifier once (cached under the cache root, about a minute each on a CPU).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark.errors import UserError
from benchmark.evaluation import fid_features
from benchmark.evaluation.fid_features import lenet_extractor, lenet_params
from metrics import fid, lenet
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA


def _need(name: str) -> None:
    if not (DATA / name / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"{name} IDX files not found under {DATA}")


def _dataset(name: str):
    _need(name)
    from benchmark import data

    try:
        return data.load(name, data_dir=DATA)
    except (UserError, ImportError) as exc:
        pytest.skip(f"{name} loader unavailable: {exc}")


@pytest.fixture(scope="module")
def mnist_classifier():
    _need("mnist")
    return lenet_params("mnist", DATA)


@pytest.mark.parametrize(("name", "floor"), [("mnist", 0.98), ("fashion_mnist", 0.88)])
def test_classifier_test_accuracy(name, floor):
    _need(name)
    params, meta = lenet_params(name, DATA)
    images, labels = fid_features._read_labelled(name, DATA, "test")
    measured = lenet.accuracy(params, images, labels)
    assert measured == pytest.approx(meta["test_accuracy"])
    assert measured >= floor


def test_fid_lenet_separates_domains(mnist_classifier):
    mnist, fashion = _dataset("mnist"), _dataset("fashion_mnist")
    extractor = lenet_extractor("mnist", DATA)
    train_feats, _ = fid.extract_features(extractor, mnist.train[:10_000], batch_size=1000)
    test_feats, _ = fid.extract_features(extractor, mnist.test[:10_000], batch_size=1000)
    fashion_feats, _ = fid.extract_features(extractor, fashion.test[:10_000], batch_size=1000)
    assert train_feats.shape == (10_000, lenet.FEATURE_DIM)
    same = fid.fid_from_features(train_feats, test_feats)
    cross = fid.fid_from_features(test_feats, fashion_feats)
    assert 0 < same and cross > 50 * same


def test_training_is_deterministic():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (512, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, 512).astype(np.int32)
    config = lenet.LeNetConfig(epochs=1, batch_size=64, seed=3)
    first, second = lenet.train(images, labels, config), lenet.train(images, labels, config)
    jax.tree.map(np.testing.assert_array_equal, first, second)
    other = lenet.train(images, labels, lenet.LeNetConfig(epochs=1, batch_size=64, seed=4))
    assert not np.array_equal(first["params"]["fc2"]["bias"], other["params"]["fc2"]["bias"])


def test_generator_fid_lenet_and_bad_input(mnist_classifier, tmp_path, monkeypatch):
    mnist = _dataset("mnist")
    extractor = lenet_extractor("mnist", DATA)
    reference = fid_features.reference_statistics("mnist", mnist.test[:2000], extractor,
                                                  cache=False)
    real = jnp.asarray(mnist.as_float(mnist.train[:1000]))

    # z = (index of a real digit, 784 noise pixels); run 0 replays the digit, run 1 emits
    # the noise, run 2 has diverged (NaN weights)
    def gen(v, z):
        digit = real[z[:, 0].astype(jnp.int32)]
        noise = z[:, 1:].reshape(-1, 28, 28, 1)
        return jnp.clip(v["a"] * digit + v["b"] * noise, 0.0, 1.0)

    runs = {"a": jnp.array([1.0, 0.0, jnp.nan]), "b": jnp.array([0.0, 1.0, 0.0])}
    noise = jax.random.uniform(jax.random.key(0), (1000, 784))
    z = jnp.concatenate([jnp.arange(1000.0)[:, None], noise], axis=1)
    out = fid.evaluate_generators(gen, runs, z, reference, extractor=extractor, batch_size=500)
    assert set(out) == {"fid"}
    assert np.isfinite(out["fid"][0]) and np.isfinite(out["fid"][1]) and np.isnan(out["fid"][2])
    assert out["fid"][1] > 20 * out["fid"][0]
    with pytest.raises(UserError, match="FID-LeNet exists for"):
        lenet_extractor("cifar10")
    with pytest.raises(ValueError, match=r"need images of shape \(28, 28, 1\)"):
        fid.extract_features(lenet_extractor("mnist", DATA), np.zeros((4, 32, 32, 3)))
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))
    monkeypatch.delenv("GAN_BENCHMARK_DATA_DIR", raising=False)
    with pytest.raises(UserError, match="not trained yet"):
        lenet_params("mnist")


def test_the_classifier_trains_on_cifar10_files(tmp_path, monkeypatch):
    """The class-accuracy classifier on CIFAR-10 (docs/protocol.md §12.7): the same network and
    recipe, read from CIFAR-10's own pickled batches (tiny fake files in the real format)."""
    from benchmark.data import cifar10
    from metrics import conditional
    from tests.data.test_data_files import SIZES, _write_cifar_folder

    _write_cifar_folder(tmp_path / "data")
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path / "cache"))
    config = lenet.LeNetConfig(epochs=2, batch_size=2, seed=0)
    params, meta = lenet_params("cifar10", tmp_path / "data", config)
    images, labels = fid_features._read_labelled("cifar10", tmp_path / "data", "test")
    splits, stored_labels, _ = cifar10.read_images(tmp_path / "data")
    np.testing.assert_array_equal(images, splits["test"])  # the reader's images and labels
    np.testing.assert_array_equal(labels, stored_labels["test"])
    assert images.shape == (SIZES["test_batch"], 32, 32, 3)
    assert meta["test_accuracy"] == pytest.approx(lenet.accuracy(params, images, labels))
    assert params["params"]["fc1"]["kernel"].shape == (8 * 8 * 32, lenet.FEATURE_DIM)
    again, _ = lenet_params("cifar10", tmp_path / "data", config)  # the cached weights
    jax.tree.map(np.testing.assert_array_equal, params, again)
    feats, _ = lenet.features(params, jnp.asarray(images, jnp.float32) / 255)
    assert feats.shape == (SIZES["test_batch"], lenet.FEATURE_DIM)
    assert conditional.METRIC.applies_to(cifar10.CIFAR10)
    with pytest.raises(UserError, match="FID-LeNet exists for"):
        lenet_extractor("cifar10", tmp_path / "data", config)


def test_processes_asking_at_once_train_the_classifier_once(tmp_path, monkeypatch):
    """A study's workers scoring MNIST with FID-LeNet at once: one trains it (here a stand-in
    that writes an untrained LeNet, slowly), the others wait for its file and load it."""
    import threading
    import time

    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path / "cache"))
    params = lenet.LeNet().init(jax.random.key(0), jnp.zeros((1, *lenet.IMAGE_SHAPE)))
    trained = []

    def slow_training(dataset, data_dir, config, path):
        trained.append(dataset)
        time.sleep(0.5)  # long enough for the other threads to find no file yet
        flat = lenet.flatten_params(params)
        with open(path, "wb") as f:
            np.savez(f, meta=np.array('{"test_accuracy": 0.1}'), **flat)

    monkeypatch.setattr(fid_features, "_train_lenet", slow_training)
    got = []
    threads = [threading.Thread(target=lambda: got.append(lenet_params("mnist")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert trained == ["mnist"] and len(got) == 3
    for p, meta in got:
        jax.tree.map(np.testing.assert_array_equal, p, params)
        assert meta == {"test_accuracy": 0.1}
