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
