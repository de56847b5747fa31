"""The registered conditional and encoder metrics on toy generators (docs/protocol.md §12.7,
§12.8): what reaches the kernels from Generators and EvalContext."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from metrics import conditional, encoder_scores
from metrics.base import EvalContext, Generators
from metrics.columns import ConditionalSettings, EncoderSettings
from tests.metrics.test_conditional_scores import K, bar_of, toy_digits
from tests.metrics.test_encoder_scores import blobs


def _bank():
    x, y = toy_digits(200, 5)
    return np.stack([x[np.flatnonzero(y == c)[0]] for c in range(K)])


def test_conditional_metric_scores_a_faithful_and_a_blind_generator(monkeypatch):
    monkeypatch.setattr(conditional, "lenet_predict", lambda params, images: bar_of(images))
    bank = jnp.asarray(_bank())
    variables = {"bank": jnp.stack([bank, bank]), "blind": jnp.array([0.0, 1.0])}

    def apply_fn(v, z, labels):  # run 0 draws class y; run 1 always class 0
        return jnp.where(v["blind"] > 0, v["bank"][jnp.zeros_like(labels)], v["bank"][labels])

    context = EvalContext("mnist", images=lambda s: None, seed=0,
                          settings=ConditionalSettings(per_class=5),
                          classifier=lambda: (None, {"test_accuracy": 0.98}))
    out = conditional.METRIC.evaluate(
        Generators(apply_fn, variables, 64, "uniform", num_classes=K), context)
    np.testing.assert_allclose(out["class_accuracy"], [1.0, 0.1])
    np.testing.assert_allclose(out["classifier_accuracy"], [0.98, 0.98])
    assert "intra_fid" not in out  # no test labels given

    permutation = np.random.RandomState(0).permutation(K)
    codes = Generators(lambda v, z, labels: v["bank"][jnp.asarray(permutation)[labels]],
                       {"bank": bank[None]}, 64, "uniform", codes=K)
    out = conditional.METRIC.evaluate(codes, context)
    assert out["code_accuracy"].tolist() == [1.0] and "class_accuracy" not in out
    unconditional = Generators(apply_fn, variables, 64, "uniform")
    assert conditional.METRIC.evaluate(unconditional, context) == {}


def test_encoder_metric_on_an_identity_pair():
    train_x, train_y = blobs(300, 1, spread=0.6)
    test_x, test_y = blobs(100, 2, spread=0.6)
    splits = {"train": (train_x, train_y), "test": (test_x, test_y)}
    context = EvalContext("toy", images=lambda s: splits[s][0], seed=0,
                          settings=EncoderSettings(test_samples=100, train_samples=300),
                          labels=lambda s: splits[s][1])
    gens = Generators(lambda v, z: z.reshape(-1, 4, 4, 1) + v["shift"],
                      {"shift": jnp.zeros((2,))}, 16, "uniform",
                      encode_fn=lambda v, x: x.reshape(x.shape[0], -1) - v["shift"])
    out = encoder_scores.METRIC.evaluate(gens, context)
    np.testing.assert_allclose(out["recon_pixel"], [0.0, 0.0], atol=1e-10)
    assert np.all(np.isnan(out["recon_lenet"]))  # no classifier for this data set
    brute = encoder_scores.nearest_neighbour_accuracy(train_x.reshape(300, -1), train_y,
                                                      test_x.reshape(100, -1), test_y)
    assert out["nn_accuracy"].tolist() == pytest.approx([brute, brute])
    conditional_g = Generators(gens.apply_fn, gens.variables, 16, "uniform", num_classes=K)
    assert encoder_scores.METRIC.evaluate(conditional_g, context) == {}  # no min over z alone


def test_encoder_metric_reconstructs_a_g_without_an_encoder_by_inversion():
    """An unconditional G without an encoder gets recon_pixel = mean min_z |G(z) - x|^2 over
    the first ``inversion_samples`` test images, and no representation scores: 0 for test
    images G can draw (run 0: G(z) = z; up to the inversion's finite Adam steps), mean |x|^2
    for a G that draws zeros (run 1)."""
    rng = np.random.RandomState(0)
    test_x = rng.uniform(-0.9, 0.9, (30, 4, 4, 1)).astype(np.float32)  # inside U(-1, 1)^16
    train_x, train_y = blobs(50, 1)
    splits = {"train": (train_x, train_y), "test": (test_x, np.zeros(30, np.int64))}
    context = EvalContext("toy", images=lambda s: splits[s][0], seed=0,
                          settings=EncoderSettings(test_samples=30, train_samples=50,
                                                   inversion_samples=12),
                          labels=lambda s: splits[s][1])
    gens = Generators(lambda v, z: v["scale"] * z.reshape(-1, 4, 4, 1),
                      {"scale": jnp.array([1.0, 0.0])}, 16, "uniform")
    out = encoder_scores.METRIC.evaluate(gens, context)
    assert set(out) == {"recon_pixel", "recon_lenet"}
    expected = np.mean(np.sum(test_x[:12].astype(np.float64) ** 2, axis=(1, 2, 3)))
    assert out["recon_pixel"][0] < 0.01 * expected  # the inversion's Adam: near, not exact
    assert out["recon_pixel"][1] == pytest.approx(expected, rel=1e-5)
    assert np.all(np.isnan(out["recon_lenet"]))  # no classifier for this data set
    none = dataclasses.replace(context, settings=EncoderSettings(inversion_samples=0))
    assert encoder_scores.METRIC.evaluate(gens, none) == {}
