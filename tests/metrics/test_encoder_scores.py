"""Known answers of the encoder scores (docs/protocol.md §12.8): reconstruction, 1-NN and the
linear probe."""

from __future__ import annotations

import numpy as np
import pytest

from metrics import encoder_scores


def blobs(n: int, seed: int, dim: int = 16, classes: int = 4, spread: float = 3.0):
    """Images [n, 4, 4, 1] whose pixels are a class mean plus unit noise."""
    rng = np.random.RandomState(seed)
    means = np.random.RandomState(99).normal(0, spread, (classes, dim))
    labels = rng.randint(0, classes, n)
    x = means[labels] + rng.normal(size=(n, dim))
    return x.reshape(n, 4, 4, 1).astype(np.float32), labels


def test_identity_encoder_and_decoder_reconstruct_exactly():
    x, _ = blobs(50, 0)
    flat = lambda v: v.reshape(v.shape[0], -1)  # noqa: E731
    unflat = lambda v: v.reshape(v.shape[0], 4, 4, 1)  # noqa: E731
    scores = encoder_scores.reconstruction_errors(flat, unflat, x, features=flat, batch_size=16)
    assert scores == {"recon_pixel": 0.0, "recon_features": 0.0}
    shifted = encoder_scores.reconstruction_errors(flat, lambda v: unflat(v) + 0.5, x)
    assert shifted["recon_pixel"] == pytest.approx(16 * 0.25)


def test_pixel_encoder_1nn_equals_brute_force_and_random_encoder_is_chance():
    train_x, train_y = blobs(600, 1, spread=0.6)
    test_x, test_y = blobs(300, 2, spread=0.6)
    a, b = train_x.reshape(600, -1), test_x.reshape(300, -1)
    d = ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    brute = float(np.mean(train_y[np.argmin(d, axis=1)] == test_y))
    pixels = encoder_scores.representation_scores(
        lambda v: v.reshape(v.shape[0], -1), train_x, train_y, test_x, test_y, batch_size=128)
    assert pixels["nn_accuracy"] == pytest.approx(brute)
    assert 0.4 < brute < 0.99  # overlapping classes: a real comparison
    assert pixels["probe_accuracy"] > brute - 0.1  # Gaussian classes: linear is near-optimal

    noise = np.random.RandomState(5)
    rand = encoder_scores.representation_scores(  # codes drawn afresh, blind to the image
        lambda v: noise.normal(size=(v.shape[0], 8)), train_x, train_y, test_x, test_y)
    assert abs(rand["nn_accuracy"] - 0.25) < 0.08
    assert abs(rand["probe_accuracy"] - 0.25) < 0.08


def test_probe_separates_separable_codes():
    train_x, train_y = blobs(400, 3, spread=5.0)
    test_x, test_y = blobs(200, 4, spread=5.0)
    acc = encoder_scores.linear_probe_accuracy(train_x, train_y, test_x, test_y)
    assert acc > 0.98
    with pytest.raises(ValueError, match="differ in shape"):
        encoder_scores.squared_errors(np.zeros((2, 3)), np.zeros((2, 4)))
