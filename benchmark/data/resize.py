"""Bilinear resize with TensorFlow 1 semantics (``tf.image.resize_images`` default).

TF1 ``ResizeBilinear`` with ``align_corners=False, half_pixel_centers=False``: output
index ``i`` samples input position ``i * in/out`` (no half-pixel offset, no
antialiasing); ``lower = floor(pos)``, ``upper = min(lower + 1, in - 1)``, and the value
is ``top + (bottom - top) * dy`` with ``top = tl + (tr - tl) * dx`` (float32). CelebA is
resized 160x160 -> 64x64 this way (docs/protocol.md §5.4), and images are resized to
299x299 for Inception by the same rule (§7.2).
"""

from __future__ import annotations

import numpy as np


def sample_positions(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper source indices and the float32 fraction for each output index."""
    scale = np.float32(in_size) / np.float32(out_size)
    position = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, (position - lower.astype(np.float32)).astype(np.float32)


def resize_bilinear_tf1(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize NHWC ``images`` to (height, width) as TF1 does; returns float32, unrounded."""
    images = np.asarray(images)
    y0, y1, dy = sample_positions(images.shape[1], height)
    x0, x1, dx = sample_positions(images.shape[2], width)
    dx = dx[None, None, :, None]
    dy = dy[None, :, None, None]
    # Gather the needed rows before converting: far less float work than the whole input.
    top_rows = images[:, y0].astype(np.float32)
    bottom_rows = images[:, y1].astype(np.float32)
    top = top_rows[:, :, x0] + (top_rows[:, :, x1] - top_rows[:, :, x0]) * dx
    bottom = bottom_rows[:, :, x0] + (bottom_rows[:, :, x1] - bottom_rows[:, :, x0]) * dx
    return top + (bottom - top) * dy


def centre_crop(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Central (height, width) window of NHWC images, offsets ``(in - out) // 2``.

    This is ``tf.image.resize_image_with_crop_or_pad`` for inputs at least that large.
    """
    top = (images.shape[1] - height) // 2
    left = (images.shape[2] - width) // 2
    if top < 0 or left < 0:
        raise ValueError(f"cannot crop {images.shape[1:3]} to {(height, width)}")
    return images[:, top : top + height, left : left + width]
