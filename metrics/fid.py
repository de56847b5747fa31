"""FID (and IS, KID) of generators against a data set's reference statistics.

docs/protocol.md §7.1, §7.3: Inception-v3 pool_3 features (2048-d) of 10,000 real images (the
first 10k of the reference split, in file order) against 10,000 samples from fixed
evaluation latents; every checkpoint is evaluated (§4.5); a run whose samples are not finite
gets NaN (§4.7). Features are extracted
on the device in large jitted batches (:mod:`metrics.features`), the statistics and distances
computed on the host in float64 (:mod:`metrics.frechet`). Nothing here reads or writes
files: the caller supplies the extractor and caches the reference statistics.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from metrics import preprocess
from metrics.base import EvalContext, Generators, Metric
from metrics.columns import FID_COLUMNS, FidSettings
from metrics.features import (
    DEFAULT_BATCH_SIZE,
    FeatureExtractor,
    FeatureFn,
    check_shape,
    extract_features,
    round_batch,
)
from metrics.frechet import (
    Statistics,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    sqrt_psd,
)

PIXEL_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class ReferenceStatistics:
    """Real-data statistics and what they were computed with (the cache key)."""

    name: str
    split: str
    feature: str
    preprocessing: str
    checksum: str
    stats: Statistics

    @property
    def mu(self) -> np.ndarray:
        return self.stats.mu

    @property
    def sigma(self) -> np.ndarray:
        return self.stats.sigma

    @functools.cached_property
    def sqrt_sigma(self) -> np.ndarray:
        return sqrt_psd(self.stats.sigma)


def images_sha256(images: np.ndarray) -> str:
    """sha256 of an image array's bytes: what a cache of reference statistics is keyed on."""
    return hashlib.sha256(np.ascontiguousarray(images).view(np.uint8)).hexdigest()


def reference_statistics(
    name: str,
    images: np.ndarray,
    extractor: FeatureExtractor,
    *,
    split: str = "test",
    batch_size: int = DEFAULT_BATCH_SIZE,
    mesh: Mesh | None = None,
) -> ReferenceStatistics:
    """Statistics of real ``images`` (docs/protocol.md §7.3: the first 10,000 images of the
    reference split), features kept for KID."""
    images = np.asarray(images)
    preprocess.check_images(images, f"{name} {split} images")
    if images.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 reference images, got {images.shape[0]}")
    features, _ = extract_features(extractor, images, batch_size, mesh)
    stats = feature_statistics(features, keep_features=True)
    return ReferenceStatistics(name, split, extractor.feature, extractor.preprocessing,
                               extractor.checksum, stats)


@functools.partial(jax.jit, static_argnames=("apply_fn", "fn"))
def _generate_and_extract(apply_fn, fn: FeatureFn, params, variables, z):
    """Samples of R runs for one batch of latents -> per-run features, logits and checks."""
    images = jax.vmap(apply_fn, in_axes=(0, None))(variables, z)  # [R, b, H, W, C]
    axes = tuple(range(1, images.ndim))
    finite = jnp.all(jnp.isfinite(images), axis=axes)
    safe = jnp.where(jnp.isfinite(images), images, 0.0)
    lo, hi = jnp.min(safe, axis=axes), jnp.max(safe, axis=axes)
    runs, b = images.shape[:2]
    feats, logits = fn(params, safe.reshape(runs * b, *images.shape[2:]))
    feats = feats.reshape(runs, b, -1)
    logits = None if logits is None else logits.reshape(runs, b, -1)
    return feats, logits, finite, lo, hi


def evaluate_generators(
    apply_fn: Callable[[Any, jax.Array], jax.Array],
    batched_variables: Any,
    eval_z: jax.Array | np.ndarray,
    reference: ReferenceStatistics,
    *,
    extractor: FeatureExtractor,
    batch_size: int = DEFAULT_BATCH_SIZE,
    runs_per_chunk: int = 8,
    kid_subset_size: int = 1000,
    mesh: Mesh | None = None,
) -> dict[str, np.ndarray]:
    """FID (and, for Inception, IS and KID) of R generators on the fixed latents ``eval_z``.

    ``apply_fn(variables, z) -> images`` is one run's generator in inference mode (NHWC in
    [0, 1]); the leaves of ``batched_variables`` have a leading runs axis R. Runs are
    vmapped together in chunks of ``runs_per_chunk``; each jitted call generates and
    featurises about ``batch_size`` images. A run whose samples are not finite gets NaN
    (docs/protocol.md §4.7); samples outside [0, 1] are an error.
    Returns {"fid": [R]} plus "inception_score" and "kid" for Inception features.
    """
    if extractor.feature != reference.feature:
        raise ValueError(
            f"reference statistics are {reference.feature} features but the extractor gives "
            f"{extractor.feature}; compute the reference with the same extractor"
        )
    if (
        extractor.checksum != reference.checksum
        or extractor.preprocessing != reference.preprocessing
    ):
        raise ValueError(
            "reference statistics were computed with other weights or preprocessing; "
            "recompute them with reference_statistics(...)"
        )
    eval_z = jnp.asarray(eval_z)
    if eval_z.ndim != 2 or eval_z.shape[0] < 2:
        raise ValueError(f"eval_z has shape {tuple(eval_z.shape)}; expected [n >= 2, z_dim]")
    leaves = jax.tree.leaves(batched_variables)
    sizes = {leaf.shape[0] if np.ndim(leaf) else None for leaf in leaves}
    if not leaves or len(sizes) != 1 or None in sizes:
        raise ValueError("batched_variables need one leading runs axis, equal on every leaf")
    runs = sizes.pop()
    chunk = max(1, min(runs, runs_per_chunk))
    per_call = max(1, batch_size // chunk)
    per_call = round_batch(per_call * chunk, mesh) // chunk if mesh is not None else per_call
    n = eval_z.shape[0]
    first = jax.tree.map(lambda a: a[0], batched_variables)
    sample = jax.eval_shape(apply_fn, first, eval_z[:1])
    preprocess.check_images(sample, "generated images")
    check_shape(extractor, sample.shape[1:])
    want_extra = extractor.feature == "inception"
    out = {"fid": np.full(runs, np.nan)}
    if want_extra:
        out["inception_score"] = np.full(runs, np.nan)
        out["kid"] = np.full(runs, np.nan)
    for r0 in range(0, runs, chunk):
        index = np.minimum(np.arange(r0, r0 + chunk), runs - 1)
        variables = jax.tree.map(lambda a, index=index: a[index], batched_variables)
        feats = logits = None
        finite = np.ones(chunk, bool)
        lo, hi = np.full(chunk, np.inf), np.full(chunk, -np.inf)
        for start in range(0, n, per_call):
            z = eval_z[start : start + per_call]
            valid = z.shape[0]
            if valid < per_call:
                z = jnp.concatenate([z, jnp.zeros((per_call - valid, z.shape[1]), z.dtype)])
            f, lg, ok, blo, bhi = _generate_and_extract(
                apply_fn, extractor.fn, extractor.params, variables, z
            )
            if start == 0:
                feats = np.empty((chunk, n, f.shape[-1]), np.float32)
                logits = None if lg is None else np.empty((chunk, n, lg.shape[-1]), np.float32)
            feats[:, start : start + valid] = np.asarray(f)[:, :valid]
            if logits is not None:
                logits[:, start : start + valid] = np.asarray(lg)[:, :valid]
            finite &= np.asarray(ok)
            lo, hi = np.minimum(lo, np.asarray(blo)), np.maximum(hi, np.asarray(bhi))
        for i in range(min(chunk, runs - r0)):
            if not finite[i] or not np.all(np.isfinite(feats[i])):
                continue  # a failed run: NaN
            if lo[i] < -PIXEL_TOLERANCE or hi[i] > 1 + PIXEL_TOLERANCE:
                raise ValueError(
                    f"generator of run {r0 + i} produced pixels in [{lo[i]:.3g}, {hi[i]:.3g}]; "
                    "generators must output images in [0, 1]"
                )
            stats = feature_statistics(feats[i])
            out["fid"][r0 + i] = frechet_distance(
                reference.mu, reference.sigma, stats.mu, stats.sigma, reference.sqrt_sigma
            )
            if want_extra:
                out["inception_score"][r0 + i] = inception_score(logits[i])
                if reference.stats.features is not None:
                    out["kid"][r0 + i] = kernel_inception_distance(
                        reference.stats.features, feats[i], kid_subset_size
                    )
    return out


def fid_of_images(
    images_a: np.ndarray,
    images_b: np.ndarray,
    extractor: FeatureExtractor,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    mesh: Mesh | None = None,
) -> float:
    """FID between two image sets (uint8 or floats in [0, 1], NHWC), in one call."""
    fa, _ = extract_features(extractor, images_a, batch_size, mesh)
    fb, _ = extract_features(extractor, images_b, batch_size, mesh)
    return fid_from_features(fa, fb)


# --------------------------------------------------------------------------- the metric


@dataclasses.dataclass(frozen=True)
class FidReference:
    """What FID is computed against: the feature name ("inception" or "lenet"), its extractor
    and the reference statistics of the data set."""

    feature: str
    extractor: FeatureExtractor
    statistics: ReferenceStatistics


def _evaluate(generators: Generators, context: EvalContext) -> dict[str, Any]:
    """FID (IS, KID with Inception) of every run on ``settings.samples`` fixed latents,
    against the first ``settings.samples`` images of the reference split."""
    settings: FidSettings = context.settings
    reference: FidReference | None = context.reference(settings.samples)
    if reference is None:
        return {}
    z = generators.latents(jax.random.PRNGKey(context.seed), settings.samples)
    out: dict[str, Any] = evaluate_generators(
        generators.apply_fn, generators.variables, z, reference.statistics,
        extractor=reference.extractor, mesh=context.mesh,
    )
    out["fid_feature"] = reference.feature
    out["fid_reference"] = reference.statistics.split  # the real images' split
    return out


METRIC = Metric(
    name="fid",
    columns=FID_COLUMNS,
    applies_to=lambda spec: spec.fid_reference_split is not None,
    evaluate=_evaluate,
    settings=FidSettings(),
    # Inception at about 10 images/s on 2 CPU cores (docs/speed.md)
    seconds=lambda settings: 0.1 * settings.samples,
    description="FID, IS and KID against the data set's reference split (docs/protocol.md §7)",
)

__all__ = [
    "METRIC", "FeatureExtractor", "FeatureFn", "FidReference", "ReferenceStatistics",
    "Statistics", "evaluate_generators", "extract_features", "feature_statistics",
    "fid_from_features", "fid_of_images", "frechet_distance", "images_sha256",
    "inception_score", "kernel_inception_distance", "reference_statistics", "sqrt_psd",
]
