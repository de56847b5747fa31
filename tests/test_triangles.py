"""The triangle generator against a plain loop written from the PROTOCOL description."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from scipy import ndimage

from benchmark import data
from benchmark.data import triangles
from benchmark.errors import UserError
from metrics import triangles as generator


def _reference(n: int, seed: int = 0) -> np.ndarray:
    """PROTOCOL's generator, one image at a time: legacy global-RNG order, mpl path, box filter."""
    rng = np.random.RandomState(seed)  # the legacy global RNG's stream, as the original drew it
    images = []
    nv, min_angle, scale, sub = 3, 20.0, 0.75, 8
    for _ in range(n):
        points = []
        for i in range(nv):
            segment = 360 / nv
            angle = i * segment + min_angle / 2 + rng.uniform() * (segment - min_angle / 2)
            p = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
            points.append((p + 1) / 2)
        points = np.array(points)
        theta = np.radians(rng.uniform() * 2 * np.pi)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        points = points @ rot.T
        points = points * 28 * scale
        points = points - points.mean(axis=0) + 14
        grid = np.arange(28 * sub)
        xs, ys = np.meshgrid(grid, grid)
        inside = MplPath(points * sub).contains_points(np.stack([xs.ravel(), ys.ravel()], 1))
        canvas = np.where(inside.reshape(28 * sub, 28 * sub), 0.0, 1.0)
        smooth = ndimage.convolve(canvas, np.ones((sub, sub)), mode="constant", cval=1.0)
        images.append(smooth[::sub, ::sub] / (sub * sub))
    order = rng.permutation(n)
    return np.array(images)[order][..., None]


def test_matches_loop_reference_pixel_for_pixel():
    n = 300
    ours = triangles.generate(n, seed=0).astype(np.float64) * triangles.PIXEL_SCALE
    ref = _reference(n, seed=0)
    assert ours.shape == ref.shape == (n, 28, 28, 1)
    np.testing.assert_array_equal(ours, ref)


def test_values_are_multiples_of_one_64th_and_deterministic():
    a = triangles.generate(500, seed=0)
    b = triangles.generate(500, seed=0)
    assert a.dtype == np.uint8 and a.max() == 64 and a.min() == 0
    assert a.tobytes() == b.tobytes()
    values = a.astype(np.float64) * triangles.PIXEL_SCALE
    np.testing.assert_array_equal(values * 64, np.round(values * 64))
    # One triangle per image, inscribed in a circle of radius 10.5 px (area <= 143.2 px).
    area = (64 - a.astype(np.int64)).sum(axis=(1, 2, 3)) / 64
    assert area.min() > 5 and area.max() < 144
    assert not np.array_equal(triangles.generate(500, seed=1), a)


def test_render_from_parameters_matches_generate():
    offsets, rotation, permutation = generator.draw_parameters(64, seed=3)
    np.testing.assert_array_equal(
        generator.render(offsets, rotation)[permutation], generator.generate(64, seed=3)
    )


def test_split_registry_and_cache(tmp_path, monkeypatch):
    # Generate a small set quickly by shrinking the split sizes; the logic is the same.
    monkeypatch.setattr(triangles, "NUM_IMAGES", 80)
    monkeypatch.setattr(triangles, "NUM_TRAIN", 60)
    monkeypatch.setattr(triangles, "NUM_TEST", 10)
    monkeypatch.setattr(triangles, "NUM_HELD_OUT", 10)
    ds = triangles.load_triangles(cache_dir=tmp_path)
    assert ds.train.shape == (60, 28, 28, 1) and ds.test.shape == (10, 28, 28, 1)
    assert ds.validation.shape == (10, 28, 28, 1) and ds.pixel_scale == 1 / 64
    full = triangles.generate(80)
    np.testing.assert_array_equal(np.concatenate([ds.train, ds.test, ds.validation]), full)
    directory = tmp_path / "datasets" / "triangles"
    manifest = json.loads((directory / "manifest.json").read_text())
    assert set(manifest["files"]) == {"train", "test", "validation"}
    again = triangles.load_triangles(cache_dir=tmp_path)  # read back from the cache
    np.testing.assert_array_equal(again.test, ds.test)
    assert not list(directory.glob("*.tmp"))

    path = directory / "test.npy"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=r"test\.npy is corrupted.*delete it to regenerate"):
        triangles.load_triangles(cache_dir=tmp_path)
    path.unlink()
    with pytest.raises(UserError, match="delete it"):
        triangles.load_triangles(cache_dir=tmp_path)


def test_registered():
    info = data.get("triangles")
    assert info.image_shape == (28, 28, 1)
    assert info.train_steps == 15625 and info.eval_every == 3906
    assert info.load is triangles.load_triangles
