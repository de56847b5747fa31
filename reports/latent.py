"""What DCGAN showed about the latent space, for any generator (docs/protocol.md §13.5):
latent walks (Radford et al. 2015, §6.1: images along straight lines between latents; smooth
transitions mean G has not memorised) and every sample's nearest training images in pixel
L2 distance (a memorisation check), as PNG bytes.

Pure numpy: the generator is any ``apply_fn(z [N, d]) -> images [N, h, w, c] in [0, 1]``, so
nothing here imports JAX; the caller binds a run's variables into ``apply_fn``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

ApplyFn = Callable[[np.ndarray], np.ndarray]


def line_latents(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """[rows, steps, d]: ``steps`` evenly spaced points on the straight line from each row of
    ``start`` [rows, d] to the same row of ``end`` (both ends included)."""
    if steps < 2:
        raise ValueError(f"a latent walk needs at least 2 points per row; got {steps}")
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    a = np.linspace(0.0, 1.0, steps)[None, :, None]
    return (1.0 - a) * start[:, None, :] + a * end[:, None, :]


def latent_walk(apply_fn: ApplyFn, start: np.ndarray, end: np.ndarray,
                steps: int = 10) -> np.ndarray:
    """[rows, steps, h, w, c]: G's images along the straight lines from ``start`` to ``end``."""
    z = line_latents(start, end, steps)
    rows = z.shape[0]
    images = np.asarray(apply_fn(z.reshape(rows * steps, -1).astype(np.float32)))
    return images.reshape(rows, steps, *images.shape[1:])


def nearest_training_images(samples: np.ndarray, train: np.ndarray, k: int = 3,
                            chunk: int = 4096,
                            scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(indices [n, k], distances [n, k]): each sample's ``k`` nearest training images in
    pixel L2 distance, nearest first (exact, float64; ``train`` read ``chunk`` rows at a
    time, as stored: ``train * scale`` are the images, e.g. uint8 and 1/255)."""
    a = np.asarray(samples, np.float64).reshape(len(samples), -1)
    if len(train) < k:
        raise ValueError(f"{k} nearest neighbours need at least {k} training images; "
                         f"got {len(train)}")
    best_d = np.full((len(a), k), np.inf)
    best_i = np.zeros((len(a), k), np.int64)
    a2 = np.sum(a * a, axis=1)[:, None]
    for lo in range(0, len(train), chunk):
        b = np.asarray(train[lo: lo + chunk], np.float64).reshape(-1, a.shape[1]) * scale
        d2 = np.maximum(a2 + np.sum(b * b, axis=1)[None, :] - 2.0 * a @ b.T, 0.0)
        cand_d = np.concatenate([best_d, d2], axis=1)
        cand_i = np.concatenate([best_i, lo + np.arange(len(b))[None, :].repeat(len(a), 0)],
                                axis=1)
        order = np.argsort(cand_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(cand_d, order, axis=1)
        best_i = np.take_along_axis(cand_i, order, axis=1)
    # Recompute the kept distances directly (the expanded form loses digits near zero).
    exact = np.stack([np.linalg.norm(
        np.asarray(train[best_i[:, j]], np.float64).reshape(len(a), -1) * scale - a, axis=1)
        for j in range(k)], axis=1)
    return best_i, exact


def nearest_rows(samples: np.ndarray, train: np.ndarray, k: int = 3,
                 scale: float = 1.0) -> np.ndarray:
    """[n, 1 + k, h, w, c]: each sample followed by its ``k`` nearest training images."""
    idx, _ = nearest_training_images(samples, train, k, scale=scale)
    return np.stack([np.concatenate([s[None], np.asarray(train[i], np.float64) * scale], axis=0)
                     for s, i in zip(np.asarray(samples, np.float64), idx, strict=True)])


def rows_png(rows: np.ndarray | Sequence[np.ndarray], gap: int = 1,
             separator_after: int | None = None) -> bytes:
    """A grid PNG of images in [0, 1] given as [rows, cols, h, w, c] (1 px white gaps; a
    wider gap after column ``separator_after``, e.g. between a sample and its neighbours)."""
    rows = np.asarray(rows, np.float32)
    r, c, h, w, ch = rows.shape
    extra = 3 if separator_after is not None else 0
    width = c * (w + gap) + gap + extra
    canvas = np.ones((r * (h + gap) + gap, width, ch), np.float32)
    for i in range(r):
        for j in range(c):
            x0 = gap + j * (w + gap) + (extra if separator_after is not None
                                        and j > separator_after else 0)
            y0 = gap + i * (h + gap)
            canvas[y0: y0 + h, x0: x0 + w] = np.nan_to_num(rows[i, j], nan=0.0)
    pixels = (np.clip(canvas, 0.0, 1.0) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels[..., 0] if ch == 1 else pixels).save(buf, format="PNG")
    return buf.getvalue()


def latent_walk_png(apply_fn: ApplyFn, start: np.ndarray, end: np.ndarray,
                    steps: int = 10) -> bytes:
    """The latent walk as a PNG: one row per line, ``steps`` images from start to end."""
    return rows_png(latent_walk(apply_fn, start, end, steps))


def nearest_png(samples: np.ndarray, train: np.ndarray, k: int = 3,
                scale: float = 1.0) -> bytes:
    """Each sample (first column), a gap, then its ``k`` nearest training images."""
    return rows_png(nearest_rows(samples, train, k, scale), separator_after=0)


def canvas_strip_png(canvases: Sequence[np.ndarray]) -> bytes:
    """A recurrent generator's canvas after each step (GRAN): one row per sample, one column
    per step, the last column the sample."""
    return rows_png(np.stack([np.asarray(c) for c in canvases], axis=1))
