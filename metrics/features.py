"""Image features on the device: a :class:`FeatureExtractor` (a pure function and its
parameters) applied in large jitted batches, sharded over a device mesh when one is given.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from metrics import inception, preprocess

DEFAULT_BATCH_SIZE = 200


FeatureFn = Callable[[Any, jax.Array], tuple[jax.Array, jax.Array | None]]


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureExtractor:
    """A pure ``fn(params, images in [0, 1]) -> (features, logits or None)`` and its params.

    ``checksum`` identifies the weights and ``preprocessing`` the input path; both are part
    of every cache key. ``image_shape`` is the input shape the extractor requires, if any.
    """

    feature: str
    fn: FeatureFn
    params: Any
    checksum: str
    preprocessing: str
    image_shape: tuple[int, int, int] | None = None


@functools.cache
def _inception_fn(mode: str, precision: lax.Precision) -> FeatureFn:
    """One function object per (preprocessing, precision), so jit caches hit."""

    def fn(params: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        return inception.apply(params, preprocess.preprocess(images, mode), precision)

    return fn


def inception_extractor(
    state: dict[str, np.ndarray],
    checksum: str,
    preprocessing: str = "compare_gan",
    precision: lax.Precision = lax.Precision.HIGHEST,
) -> FeatureExtractor:
    """The FID Inception with the weights of ``state`` (a pytorch-fid state dict as arrays;
    ``checksum`` identifies them), with ``preprocessing`` "compare_gan" (default) or
    "pytorch_fid"."""
    if preprocessing not in preprocess.MODES:
        raise ValueError(
            f"unknown preprocessing {preprocessing!r}; choose one of: {', '.join(preprocess.MODES)}"
        )
    params = jax.device_put(inception.params_from_state_dict(state))
    inception.check_params(params)
    return FeatureExtractor("inception", _inception_fn(preprocessing, precision), params,
                            checksum, preprocessing)


def round_batch(batch_size: int, mesh: Mesh | None) -> int:
    """``batch_size`` rounded up to a multiple of the mesh's device count."""
    count = 1 if mesh is None else mesh.size
    return max(count, -(-batch_size // count) * count)


@functools.partial(jax.jit, static_argnames=("fn",))
def _extract_batch(fn: FeatureFn, params: Any, images: jax.Array):
    return fn(params, images)


def extract_features(
    extractor: FeatureExtractor,
    images: np.ndarray,
    batch_size: int = DEFAULT_BATCH_SIZE,
    mesh: Mesh | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (and logits) of NHWC images (uint8, or floats in [0, 1]) in jitted batches.

    Every batch has the same padded size (one compilation); with a ``mesh`` (e.g.
    ``benchmark.devices.local_mesh()``) the batch axis is sharded over its devices.
    """
    images = preprocess.to_unit_float(np.asarray(images))
    check_shape(extractor, images.shape[1:])
    n = images.shape[0]
    batch = round_batch(batch_size, mesh)
    feats, logits = [], []
    for start in range(0, n, batch):
        chunk = images[start : start + batch]
        valid = chunk.shape[0]
        if valid < batch:
            chunk = np.concatenate(
                [chunk, np.zeros((batch - valid, *chunk.shape[1:]), chunk.dtype)]
            )
        x = chunk if mesh is None else jax.device_put(
            chunk, NamedSharding(mesh, PartitionSpec(mesh.axis_names[0])))
        f, lg = _extract_batch(extractor.fn, extractor.params, x)
        feats.append(np.asarray(f)[:valid])
        if lg is not None:
            logits.append(np.asarray(lg)[:valid])
    features = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
    return features, (np.concatenate(logits) if logits else None)


def check_shape(extractor: FeatureExtractor, shape: tuple[int, ...]) -> None:
    if extractor.image_shape is not None and tuple(shape) != tuple(extractor.image_shape):
        raise ValueError(
            f"{extractor.feature} features need images of shape {extractor.image_shape}, got "
            f"{tuple(shape)}; use feature='inception' for other data sets"
        )
