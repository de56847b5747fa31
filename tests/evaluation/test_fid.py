"""Fréchet distance, Inception Score, KID and the generator evaluation the engine calls."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from benchmark.evaluation import fid_features
from metrics import fid
from tests.conftest import two_device_env

RNG = np.random.default_rng(0)


def _stats(x: np.ndarray) -> fid.Statistics:
    return fid.feature_statistics(x)


def _pair(d: int, n1: int, n2: int, condition: float | None = None):
    a = RNG.standard_normal((n1, d))
    b = RNG.standard_normal((n2, d)) * 1.3 + 0.2
    if condition is not None:  # eigenvalues spread over 10^condition
        scales = np.logspace(0, -condition / 2, d)
        a, b = a * scales, b * scales[::-1]
    return _stats(a), _stats(b)


@pytest.mark.parametrize(
    ("d", "n1", "n2", "condition"),
    [
        (64, 2000, 1500, None),  # well conditioned
        (64, 2000, 2000, 12),  # ill conditioned: eigenvalues over 12 decades
        (128, 40, 60, None),  # rank deficient: fewer samples than dimensions
        (512, 300, 200, None),  # rank deficient, larger
    ],
)
def test_frechet_distance_matches_pytorch_fid(d, n1, n2, condition):
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    a, b = _pair(d, n1, n2, condition)
    want = fid_score.calculate_frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    got = fid.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    assert isinstance(got, float) and np.isfinite(got)
    assert abs(got - want) <= 1e-6 * abs(want)
    # the cached square root of the first covariance gives the same value
    again = fid.frechet_distance(a.mu, a.sigma, b.mu, b.sigma, fid.sqrt_psd(a.sigma))
    assert abs(again - got) <= 1e-9 * abs(got)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    d = 50
    mu1, mu2 = RNG.standard_normal(d), RNG.standard_normal(d)
    v1, v2 = RNG.random(d) * 3, RNG.random(d) * 3
    v1[:5] = 0.0  # singular
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    got = fid.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(want, rel=1e-10)


def test_frechet_distance_is_real_finite_and_zero_on_itself():
    # Rank 3 in 200 dimensions: sqrtm-based routes go complex here.
    x = RNG.standard_normal((4, 200))
    s = _stats(x)
    same = fid.frechet_distance(s.mu, s.sigma, s.mu, s.sigma)
    assert isinstance(same, float) and 0.0 <= same < 1e-8
    other = _stats(RNG.standard_normal((3, 200)) * 5)
    value = fid.frechet_distance(s.mu, s.sigma, other.mu, other.sigma)
    assert isinstance(value, float) and np.isfinite(value) and value > 0


def test_fid_bad_input_is_a_user_error():
    with pytest.raises(ValueError, match="at least 2 samples"):
        fid.feature_statistics(np.zeros((1, 8)))
    bad = np.ones((10, 8))
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fid.feature_statistics(bad)
    with pytest.raises(ValueError, match="NaN"):
        fid.frechet_distance(np.zeros(2), np.full((2, 2), np.nan), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="dimension"):
        fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="mu"):
        fid.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_inception_score_known_values_and_formula():
    # Confident and uniform over 10 classes -> 10; uninformative logits -> 1.
    one_hot = np.eye(10)[np.arange(100) % 10] * 50.0
    assert fid.inception_score(one_hot) == pytest.approx(10.0, rel=1e-9)
    assert fid.inception_score(np.zeros((7, 1008))) == pytest.approx(1.0)
    logits = RNG.standard_normal((64, 12)) * 3
    p = scipy.special.softmax(logits, axis=1)
    py = p.mean(axis=0)
    want = np.exp(np.mean([scipy.special.rel_entr(pi, py).sum() for pi in p]))
    assert fid.inception_score(logits) == pytest.approx(want, rel=1e-10)


def _kid_by_loops(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1.0) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_definition():
    x, y = RNG.standard_normal((20, 6)), RNG.standard_normal((20, 6)) + 0.5
    assert fid.kernel_inception_distance(x, y, subset_size=20) == pytest.approx(
        _kid_by_loops(x, y), rel=1e-10
    )
    blocks = [_kid_by_loops(x[i : i + 10], y[i : i + 10]) for i in (0, 10)]
    assert fid.kernel_inception_distance(x, y, subset_size=10) == pytest.approx(np.mean(blocks))
    # unbiased: near zero for two samples of one distribution, far from it otherwise
    big = RNG.standard_normal((4000, 8))
    assert abs(fid.kernel_inception_distance(big[:2000], big[2000:])) < 0.02
    assert fid.kernel_inception_distance(big[:2000], big[2000:] + 1.0) > 0.5
    with pytest.raises(ValueError, match="at least 2"):
        fid.kernel_inception_distance(x[:1], y)


# --------------------------------------------------------------------------- generators


def _toy_fn(params, images):
    """A stand-in extractor: a fixed linear map of the pixels (features) and logits."""
    flat = images.reshape(images.shape[0], -1)
    feats = jnp.tanh(flat @ params["w"])
    return feats, feats[:, :5] * 4.0


def _toy_extractor(image_shape=(8, 8, 1)) -> fid.FeatureExtractor:
    w = jax.random.normal(jax.random.key(0), (int(np.prod(image_shape)), 16)) * 0.3
    return fid.FeatureExtractor("inception", _toy_fn, {"w": w}, "toy" * 10, "compare_gan")


def _generator(variables, z):
    """One run's generator: sigmoid of a linear map, [n, 8, 8, 1] in [0, 1]."""
    return jax.nn.sigmoid(z @ variables["a"] + variables["b"]).reshape(z.shape[0], 8, 8, 1)


def _runs(count: int, z_dim: int = 4):
    keys = jax.random.split(jax.random.key(1), count)
    return {
        "a": jax.vmap(lambda k: jax.random.normal(k, (z_dim, 64)))(keys),
        "b": jnp.linspace(-1.0, 1.0, count)[:, None] * jnp.ones((count, 64)),
    }


def test_evaluate_generators_matches_per_run_computation(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))
    extractor = _toy_extractor()
    real = np.asarray(jax.random.uniform(jax.random.key(2), (300, 8, 8, 1)))
    reference = fid.reference_statistics("toy", real, extractor=extractor, batch_size=64)
    runs = _runs(5)
    runs["b"] = runs["b"].at[3].set(jnp.nan)  # run 3 diverged
    eval_z = jax.random.uniform(jax.random.key(3), (250, 4), minval=-1, maxval=1)
    out = fid.evaluate_generators(
        _generator, runs, eval_z, reference, extractor=extractor, batch_size=96, runs_per_chunk=2
    )
    assert set(out) == {"fid", "inception_score", "kid"}
    assert np.isnan(out["fid"][3]) and np.isnan(out["kid"][3])
    ref_feats, _ = fid.extract_features(extractor, real)
    for r in (0, 1, 2, 4):
        images = np.asarray(_generator(jax.tree.map(lambda a, r=r: a[r], runs), eval_z))
        feats, logits = fid.extract_features(extractor, images)
        assert out["fid"][r] == pytest.approx(fid.fid_from_features(ref_feats, feats), rel=1e-5)
        assert out["inception_score"][r] == pytest.approx(fid.inception_score(logits), rel=1e-5)
        kid = fid.kernel_inception_distance(ref_feats, feats)
        assert out["kid"][r] == pytest.approx(kid, rel=1e-4, abs=1e-7)
    assert len(set(np.round(out["fid"][[0, 1, 2, 4]], 6))) == 4


def test_evaluate_generators_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))
    extractor = _toy_extractor()
    real = np.asarray(jax.random.uniform(jax.random.key(2), (50, 8, 8, 1)))
    reference = fid.reference_statistics("toy", real, extractor=extractor)
    runs, z = _runs(2), jnp.zeros((20, 4))
    wide = lambda v, z: 4.0 * _generator(v, z) - 2.0
    with pytest.raises(ValueError, match=r"pixels in \[-"):
        fid.evaluate_generators(wide, runs, z, reference, extractor=extractor)
    with pytest.raises(ValueError, match="n >= 2"):
        fid.evaluate_generators(_generator, runs, z[:1], reference, extractor=extractor)
    flat = lambda v, z: _generator(v, z).reshape(z.shape[0], 64)
    with pytest.raises(ValueError, match="shape"):
        fid.evaluate_generators(flat, runs, z, reference, extractor=extractor)
    with pytest.raises(ValueError, match="feature"):
        other = dataclasses.replace(extractor, feature="lenet")
        fid.evaluate_generators(_generator, runs, z, reference, extractor=other)
    with pytest.raises(ValueError, match="at least 2 reference"):
        fid.reference_statistics("toy", real[:1], extractor=extractor)


def test_reference_statistics_are_cached_per_images(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))
    extractor = _toy_extractor()
    real = (np.asarray(jax.random.uniform(jax.random.key(4), (40, 8, 8, 1))) * 255).astype(np.uint8)
    first = fid_features.reference_statistics("toy", real, extractor)
    files = list((tmp_path / "fid_stats").glob("toy_test_40_inception_compare_gan_*.npz"))
    assert len(files) == 1
    cached = fid_features.reference_statistics("toy", real, extractor)
    np.testing.assert_array_equal(cached.sigma, first.sigma)
    other = fid_features.reference_statistics("toy", 255 - real, extractor)
    assert not np.allclose(other.mu, first.mu)  # other images: recomputed, not the cache


def test_feature_extraction_sharded_over_two_devices_equals_one():
    script = textwrap.dedent(
        """
        import jax, numpy as np
        from tests.evaluation.test_fid import _toy_extractor
        from benchmark.devices import local_mesh
        from metrics import fid
        assert jax.local_device_count() == 2
        images = np.random.default_rng(0).random((37, 8, 8, 1)).astype(np.float32)
        feats, logits = fid.extract_features(_toy_extractor(), images, batch_size=7,
                                             mesh=local_mesh())
        print(float(feats.sum()), *feats.shape)
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-c", script], env=two_device_env(), cwd=root, capture_output=True,
        text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.random.default_rng(0).random((37, 8, 8, 1)).astype(np.float32)
    feats, _ = fid.extract_features(_toy_extractor(), images, batch_size=7)
    total, rows, cols = result.stdout.split()[-3:]
    assert float(total) == pytest.approx(float(feats.sum()), rel=1e-5)
    assert (int(rows), int(cols)) == feats.shape
