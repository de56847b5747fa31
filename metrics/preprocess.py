"""Images in [0, 1] -> Inception inputs, as compare_gan v1 does it (or as pytorch-fid does).

docs/protocol.md §7.2: images scaled to [0, 255], bilinear resize to 299x299 with TensorFlow 1
semantics (``tf.image.resize_bilinear``: align_corners=False and no half-pixel centres,
so source = destination * in/out), then (x - 128) / 128; grayscale tiled to 3 channels.
The named option ``"pytorch_fid"`` is pytorch-fid's own input path: resize in [0, 1] with
``F.interpolate(mode="bilinear", align_corners=False)`` (half-pixel centres, negative
source clamped to 0), then 2x - 1.

A bilinear resize is separable and linear, so it is two small interpolation matrices
applied with one einsum: exact, and fast on any accelerator.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

INCEPTION_SIZE = 299
MODES = ("compare_gan", "pytorch_fid")


def resize_matrix(in_size: int, out_size: int, mode: str) -> np.ndarray:
    """The [out, in] bilinear interpolation matrix of one axis, in float32 like the kernels.

    ``compare_gan``: source = i * (in/out) (TF1 legacy). ``pytorch_fid``: source =
    (i + 0.5) * (in/out) - 0.5, clamped at 0 (PyTorch, align_corners=False).
    """
    if mode not in MODES:
        raise ValueError(f"unknown preprocessing {mode!r}; choose one of: {', '.join(MODES)}")
    scale = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    if mode == "compare_gan":
        src = dst * scale
    else:
        src = np.maximum((dst + np.float32(0.5)) * scale - np.float32(0.5), np.float32(0))
    lower = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    frac = (src - lower.astype(np.float32)).astype(np.float32)
    matrix = np.zeros((out_size, in_size), np.float32)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), np.float32(1) - frac)
    np.add.at(matrix, (rows, upper), frac)
    return matrix


def check_images(images: np.ndarray | jax.Array, what: str = "images") -> None:
    """One-line ValueError unless ``images`` is NHWC with 1 or 3 channels (host-side check)."""
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[-1] not in (1, 3) or shape[1] < 2 or shape[2] < 2:
        raise ValueError(
            f"{what} have shape {shape}; expected NHWC [n, height, width, 1 or 3] in [0, 1]"
        )


def to_unit_float(images: np.ndarray, what: str = "images") -> np.ndarray:
    """uint8 -> /255; floats must already lie in [0, 1]. Host-side, with one-line errors."""
    check_images(images, what)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"{what} have dtype {images.dtype}; pass uint8 or floats in [0, 1]")
    images = np.asarray(images, np.float32)
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{what} contain NaN or infinite pixels; pass finite values in [0, 1]")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"{what} range over [{lo:.3g}, {hi:.3g}]; expected [0, 1] (divide uint8 by 255, "
            "map [-1, 1] with (x + 1) / 2)"
        )
    return images


def preprocess(
    images: jax.Array, mode: str = "compare_gan", size: int = INCEPTION_SIZE
) -> jax.Array:
    """NHWC float images in [0, 1] -> [n, size, size, 3] Inception inputs (jit-friendly)."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images have shape {tuple(images.shape)}; expected NHWC with 1 or 3 channels"
        )
    ry = jnp.asarray(resize_matrix(images.shape[1], size, mode))
    rx = jnp.asarray(resize_matrix(images.shape[2], size, mode))
    x = images.astype(jnp.float32)
    if mode == "compare_gan":
        x = x * 255.0
    x = jnp.einsum("oh,nhwc,pw->nopc", ry, x, rx, precision=lax.Precision.HIGHEST)
    if x.shape[-1] == 1:
        x = jnp.broadcast_to(x, (*x.shape[:3], 3))
    if mode == "compare_gan":
        return (x - 128.0) / 128.0
    return 2.0 * x - 1.0
