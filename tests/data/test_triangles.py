"""The triangle generator against a plain transcription of the original colab.

The reference below follows compare_gan ``colabs/Convex_Polygons_Dataset.ipynb`` (commit
19922d3), ``GenerateConvexPolygon`` and ``GenerateDataset``, step by step and one image at a
time: numpy's legacy RNG (3 offsets then 1 rotation per image, then one permutation), the row
vectors times the rotation matrix with ``np.dot``, matplotlib's ``Path.contains_points`` on
``np.mgrid``'s grid and scipy's box convolution.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from scipy import ndimage

from benchmark import data
from benchmark.data import triangles
from benchmark.errors import UserError
from metrics import triangles as generator


def _colab_polygon(rng, n_vertices=3, min_segment_angle=20.0, scale=0.75, raster_dim=28,
                   subpixel_res=8):
    """One image of the colab's GenerateConvexPolygon (shift_to_mean=True), float64 [28, 28]."""
    segment_angle = 360.0 / n_vertices
    max_angle = segment_angle - min_segment_angle / 2.0
    degrees = []
    for i in range(n_vertices):
        offset_angle = rng.rand() * max_angle
        degrees.append(i * segment_angle + min_segment_angle / 2.0 + offset_angle)
    radians = np.array(degrees) * np.pi / 180.0
    unit = np.column_stack((np.cos(radians), np.sin(radians)))
    unit = (unit + 1.0) / 2.0
    theta = np.radians(rng.rand() * 2 * np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    verts = np.dot(unit, rotation) * (raster_dim * scale)
    verts += raster_dim / 2.0 - verts.mean(axis=0)
    size = raster_dim * subpixel_res
    first, second = np.mgrid[0:size, 0:size]
    points = np.column_stack((first.ravel(), second.ravel()))
    inside = MplPath(verts * subpixel_res).contains_points(points).reshape(size, size)
    canvas = np.array(~inside, dtype=np.float32)
    box = np.ones((subpixel_res, subpixel_res))
    canvas = ndimage.convolve(canvas, box, mode="constant", cval=1.0)
    return canvas[::subpixel_res, ::subpixel_res] / (subpixel_res * subpixel_res)


def _colab_dataset(n: int, seed: int = 0) -> np.ndarray:
    """The colab's GenerateDataset: [n, 28, 28] float64, permuted at the end."""
    rng = np.random.RandomState(seed)  # np.random.seed(seed) + np.random.rand(): same stream
    images = np.zeros((n, 28, 28))
    for i in range(n):
        images[i] = _colab_polygon(rng)
    return images[rng.permutation(n)]


def test_matches_the_colab_pixel_for_pixel():
    n = 300
    ours = triangles.generate(n, seed=0).astype(np.float64) * triangles.PIXEL_SCALE
    ref = _colab_dataset(n, seed=0)[..., None]
    assert ours.shape == ref.shape == (n, 28, 28, 1)
    np.testing.assert_array_equal(ours, ref)


def test_orientation_and_rotation_sign():
    """Image rows follow the vertices' first coordinate (mgrid); the turn is by -theta."""
    offsets, rotation = np.array([[0.3, 0.6, 0.9]]), np.array([1.0])
    v = generator.vertices(offsets, rotation)[0]  # x spans about 1..21, y about 10..20
    ink = 64 - generator.render(offsets, rotation)[0, ..., 0].astype(int)
    rows, cols = np.nonzero(ink.sum(axis=1))[0], np.nonzero(ink.sum(axis=0))[0]
    assert rows.min() >= np.floor(v[:, 0].min()) and rows.max() <= np.ceil(v[:, 0].max())
    assert cols.min() >= np.floor(v[:, 1].min()) and cols.max() <= np.ceil(v[:, 1].max())
    assert rows.max() - rows.min() > cols.max() - cols.min() + 5
    # Recentred vertices are the unrotated ones as row vectors times [[c, -s], [s, c]] ...
    theta = np.radians(2 * np.pi)
    unrotated = generator.vertices(offsets, np.array([0.0]))[0] - 14
    matrix = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    np.testing.assert_allclose(v - 14, unrotated @ matrix, atol=1e-12)
    # ... i.e. every vertex turns by -theta about the centre.
    turn = np.angle((v[:, 0] - 14) + 1j * (v[:, 1] - 14)) - np.angle(
        unrotated[:, 0] + 1j * unrotated[:, 1])
    np.testing.assert_allclose(turn, -theta, atol=1e-12)


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
    with pytest.raises(UserError, match=r"test\.npy is corrupted.*delete the folder"):
        triangles.load_triangles(cache_dir=tmp_path)
    path.unlink()
    with pytest.raises(UserError, match="delete the folder") as err:
        triangles.load_triangles(cache_dir=tmp_path)
    # the advice works: without the folder the data set is generated again
    shutil.rmtree(str(err.value).split("delete the folder ")[1].split(" and rerun")[0])
    np.testing.assert_array_equal(triangles.load_triangles(cache_dir=tmp_path).test, ds.test)


def test_registered():
    info = data.get("triangles")
    assert info.image_shape == (28, 28, 1)
    assert info.train_steps == 15625 and info.eval_every == 3906
    assert info.load is triangles.load_triangles


def test_a_cache_of_an_older_generator_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(triangles, "NUM_IMAGES", 80)
    monkeypatch.setattr(triangles, "NUM_TRAIN", 60)
    monkeypatch.setattr(triangles, "NUM_TEST", 10)
    monkeypatch.setattr(triangles, "NUM_HELD_OUT", 10)
    current = triangles.GENERATOR_VERSION
    assert current >= 2  # 2: the colab's rotation sign and orientation
    # A valid cache written by version 1 (stand-in bytes: all background), sha256s and all.
    monkeypatch.setattr(triangles, "GENERATOR_VERSION", 1)
    blank = {"train": 60, "test": 10, "validation": 10}
    directory = tmp_path / "datasets" / "triangles"
    triangles._write_cache(
        directory, {k: np.full((n, 28, 28, 1), 64, np.uint8) for k, n in blank.items()}
    )
    monkeypatch.setattr(triangles, "GENERATOR_VERSION", current)
    ds = triangles.load_triangles(cache_dir=tmp_path)
    full = triangles.generate(80)
    np.testing.assert_array_equal(np.concatenate([ds.train, ds.test, ds.validation]), full)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["generator_version"] == triangles.GENERATOR_VERSION
    again = triangles.load_triangles(cache_dir=tmp_path)  # now read, not rebuilt
    np.testing.assert_array_equal(again.train, ds.train)
