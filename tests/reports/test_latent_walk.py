"""Latent walks and nearest training images (docs/protocol.md §13.5), with a linear toy
generator whose images are known in closed form and brute-force neighbours."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from reports import latent

RNG = np.random.default_rng(0)
PROJ = RNG.normal(size=(4, 6 * 5 * 1))


def toy_apply(z):
    """A linear 'generator': z [N, 4] -> images [N, 6, 5, 1] = sigmoid(z P)."""
    return (1.0 / (1.0 + np.exp(-(np.asarray(z, np.float64) @ PROJ)))).reshape(-1, 6, 5, 1)


def test_walk_rows_go_from_start_to_end_in_straight_lines():
    start, end = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    z = latent.line_latents(start, end, 7)
    assert z.shape == (3, 7, 4)
    np.testing.assert_allclose(z[:, 0], start)
    np.testing.assert_allclose(z[:, -1], end)
    np.testing.assert_allclose(z[:, 3], (start + end) / 2)  # the midpoint
    images = latent.latent_walk(toy_apply, start, end, 7)
    assert images.shape == (3, 7, 6, 5, 1)
    np.testing.assert_allclose(images[1, 2], toy_apply(z[1, 2][None])[0], rtol=1e-5)


def test_nearest_neighbours_match_brute_force():
    train = RNG.uniform(size=(50, 6, 5, 1))
    samples = np.concatenate([train[[7, 31]] + 1e-3, RNG.uniform(size=(3, 6, 5, 1))])
    idx, dist = latent.nearest_training_images(samples, train, k=4, chunk=16)
    brute = np.linalg.norm(samples.reshape(5, 1, -1) - train.reshape(1, 50, -1), axis=2)
    np.testing.assert_array_equal(idx, np.argsort(brute, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :4], rtol=1e-12)
    assert idx[0, 0] == 7 and idx[1, 0] == 31  # a copied training image is found


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_pngs_have_the_grid_size():
    start, end = RNG.normal(size=(2, 4)), RNG.normal(size=(2, 4))
    walk = _png(latent.latent_walk_png(toy_apply, start, end, steps=5))
    assert walk.shape == (2 * 7 + 1, 5 * 6 + 1)  # rows of 6 px + gaps, columns of 5 px
    train = RNG.uniform(size=(20, 6, 5, 1))
    near = _png(latent.nearest_png(train[:3], train, k=2))
    assert near.shape == (3 * 7 + 1, 3 * 6 + 1 + 3)  # sample | 2 neighbours, wider gap
    strip = _png(latent.canvas_strip_png([train[:2], train[2:4], train[4:6]]))
    assert strip.shape == (2 * 7 + 1, 3 * 6 + 1)


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(ValueError, match="at least 2 points") as info:
        latent.line_latents(np.zeros((1, 2)), np.ones((1, 2)), 1)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="need at least 5 training images"):
        latent.nearest_training_images(np.zeros((1, 2, 2, 1)), np.zeros((3, 2, 2, 1)), k=5)
