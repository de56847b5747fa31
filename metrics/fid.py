"""FID, Inception Score and KID of images or of generators, features computed on the device.

PROTOCOL, FID: Inception-v3 pool_3 features (2048-d) of 10,000 real test images (the
first 10k, in file order) against 10,000 samples from fixed evaluation latents; every
checkpoint is evaluated; a NaN result is a failed run. Features are extracted in large
jitted batches (sharded over local devices when there are several); the statistics and
distances are computed on the host in float64. The Fréchet distance uses the symmetric
eigenvalue route, tr sqrt(S1 S2) = sum sqrt(eig(S1^1/2 S2 S1^1/2)), which is real and
stable for any pair of covariances, including rank-deficient ones (no scipy ``sqrtm``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.special
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from benchmark.errors import UserError
from benchmark.paths import cache_dir
from metrics import inception, inception_weights, preprocess

FEATURES = ("inception", "lenet")
DEFAULT_BATCH_SIZE = 200
PIXEL_TOLERANCE = 1e-3


# --------------------------------------------------------------------------- statistics


@dataclasses.dataclass(frozen=True)
class Statistics:
    """Mean and covariance (float64) of n feature vectors; ``features`` kept for KID."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    features: np.ndarray | None = None


def feature_statistics(features: np.ndarray, keep_features: bool = False) -> Statistics:
    """Mean and unbiased covariance in float64 of [n, d] features (n >= 2, all finite)."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise UserError(f"features have shape {features.shape}; expected [n, d]")
    if features.shape[0] < 2:
        raise UserError(
            f"FID needs at least 2 samples, got {features.shape[0]}; evaluate more images"
        )
    if not np.all(np.isfinite(features)):
        raise UserError("features contain NaN or infinite values; check the images fed to FID")
    x = features.astype(np.float64)
    mu = x.mean(axis=0)
    centred = x - mu
    sigma = centred.T @ centred / (x.shape[0] - 1)
    return Statistics(mu, sigma, x.shape[0], features if keep_features else None)


def _check_moments(mu: np.ndarray, sigma: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise UserError(
            f"{which} statistics have mu {mu.shape} and sigma {sigma.shape}; need [d], [d, d]"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise UserError(f"{which} statistics contain NaN or infinite values; recompute them")
    return mu, sigma


def sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance; tiny negative eigenvalues (rounding) count as 0."""
    sym = (sigma + sigma.T) / 2
    w, v = scipy.linalg.eigh(sym, driver="evd")
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    sqrt_sigma1: np.ndarray | None = None,
) -> float:
    """||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), in float64 (PROTOCOL, FID).

    tr sqrt(S1 S2) equals sum sqrt(eig(A)) with A = S1^1/2 S2 S1^1/2 symmetric PSD, so
    the eigenvalues are real; negative rounding is clipped. Pass ``sqrt_sigma1`` to reuse
    the square root of a fixed reference covariance. The result is clipped at 0.
    """
    mu1, sigma1 = _check_moments(mu1, sigma1, "first")
    mu2, sigma2 = _check_moments(mu2, sigma2, "second")
    if mu1.shape != mu2.shape:
        raise UserError(f"statistics differ in dimension: {mu1.size} vs {mu2.size}")
    root = sqrt_psd(sigma1) if sqrt_sigma1 is None else sqrt_sigma1
    a = root @ sigma2 @ root
    eig = scipy.linalg.eigh((a + a.T) / 2, eigvals_only=True, driver="evd")
    tr_covmean = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two [n, d] feature sets."""
    a, b = feature_statistics(features_a), feature_statistics(features_b)
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)


def inception_score(logits: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))) over all samples at once (v1: no splits), float64."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or logits.shape[0] < 1:
        raise UserError(f"logits have shape {logits.shape}; expected [n, classes]")
    if not np.all(np.isfinite(logits)):
        raise UserError("logits contain NaN or infinite values; check the images")
    log_p = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    p = np.exp(log_p)
    log_py = np.log(np.mean(p, axis=0))
    kl = np.sum(p * (log_p - log_py), axis=1)
    return float(np.exp(np.mean(kl)))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    m, n = x.shape[0], y.shape[0]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2.0 * kxy.mean()
    )


def kernel_inception_distance(
    features_a: np.ndarray, features_b: np.ndarray, subset_size: int = 1000
) -> float:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al.).

    The sets are cut into consecutive disjoint blocks of ``subset_size`` (the last partial
    block dropped; one block when a set is smaller) and the block MMDs are averaged:
    deterministic, and O(n * subset_size) rather than O(n^2).
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise UserError(f"KID features have shapes {a.shape} and {b.shape}; need [n, d] each")
    if min(a.shape[0], b.shape[0]) < 2:
        raise UserError("KID needs at least 2 samples per set; evaluate more images")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise UserError("KID features contain NaN or infinite values; check the images")
    size = max(2, min(subset_size, a.shape[0], b.shape[0]))
    blocks = min(a.shape[0], b.shape[0]) // size
    values = [
        _mmd2_unbiased(a[i * size : (i + 1) * size], b[i * size : (i + 1) * size])
        for i in range(blocks)
    ]
    return float(np.mean(values))


# --------------------------------------------------------------------------- extractors


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


@functools.lru_cache(maxsize=4)
def inception_extractor(
    weights_path: str | None = None,
    preprocessing: str = "compare_gan",
    expected_sha256: str | None = inception_weights.WEIGHTS_SHA256,
    precision: lax.Precision = lax.Precision.HIGHEST,
) -> FeatureExtractor:
    """The FID Inception on ``weights_path`` (else $GAN_BENCHMARK_INCEPTION_WEIGHTS, else the
    checked download), with ``preprocessing`` "compare_gan" (default) or "pytorch_fid"."""
    if preprocessing not in preprocess.MODES:
        raise UserError(
            f"unknown preprocessing {preprocessing!r}; choose one of: {', '.join(preprocess.MODES)}"
        )
    state, digest = inception_weights.load_state_dict(weights_path, expected_sha256=expected_sha256)
    params = jax.device_put(inception.params_from_state_dict(state))
    inception.check_params(params)
    return FeatureExtractor("inception", _inception_fn(preprocessing, precision), params, digest,
                            preprocessing)  # fmt: skip


def get_extractor(feature: str, dataset: str | None = None, **kwargs: Any) -> FeatureExtractor:
    """The extractor named ``feature``: "inception", or "lenet" (trained on ``dataset``)."""
    if feature == "inception":
        return inception_extractor(**kwargs)
    if feature == "lenet":
        from metrics import lenet

        return lenet.lenet_extractor(dataset or "mnist", **kwargs)
    raise UserError(f"unknown FID feature {feature!r}; choose one of: {', '.join(FEATURES)}")


def _mesh() -> Mesh | None:
    devices = jax.local_devices()
    return Mesh(np.array(devices), ("batch",)) if len(devices) > 1 else None


def _round_batch(batch_size: int) -> int:
    count = jax.local_device_count()
    return max(count, -(-batch_size // count) * count)


@functools.partial(jax.jit, static_argnames=("fn",))
def _extract_batch(fn: FeatureFn, params: Any, images: jax.Array):
    return fn(params, images)


def extract_features(
    extractor: FeatureExtractor,
    images: np.ndarray,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (and logits) of NHWC images (uint8, or floats in [0, 1]) in jitted batches.

    Every batch has the same padded size (one compilation); with several local devices the
    batch axis is sharded across them.
    """
    images = preprocess.to_unit_float(np.asarray(images))
    _check_shape(extractor, images.shape[1:])
    n = images.shape[0]
    batch = _round_batch(batch_size)
    mesh = _mesh()
    feats, logits = [], []
    for start in range(0, n, batch):
        chunk = images[start : start + batch]
        valid = chunk.shape[0]
        if valid < batch:
            chunk = np.concatenate(
                [chunk, np.zeros((batch - valid, *chunk.shape[1:]), chunk.dtype)]
            )
        x = jax.device_put(chunk, NamedSharding(mesh, PartitionSpec("batch"))) if mesh else chunk
        f, lg = _extract_batch(extractor.fn, extractor.params, x)
        feats.append(np.asarray(f)[:valid])
        if lg is not None:
            logits.append(np.asarray(lg)[:valid])
    features = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
    return features, (np.concatenate(logits) if logits else None)


def _check_shape(extractor: FeatureExtractor, shape: tuple[int, ...]) -> None:
    if extractor.image_shape is not None and tuple(shape) != tuple(extractor.image_shape):
        raise UserError(
            f"{extractor.feature} features need images of shape {extractor.image_shape}, got "
            f"{tuple(shape)}; use feature='inception' for other data sets"
        )


# --------------------------------------------------------------------------- reference


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


def _reference_path(name: str, split: str, n: int, extractor: FeatureExtractor) -> Path:
    e = extractor
    key = f"{name}_{split}_{n}_{e.feature}_{e.preprocessing}_{e.checksum[:16]}"
    return cache_dir() / "fid_stats" / f"{key}.npz"


def reference_statistics(
    name: str,
    images: np.ndarray,
    *,
    split: str = "test",
    feature: str = "inception",
    extractor: FeatureExtractor | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: bool = True,
    **extractor_kwargs: Any,
) -> ReferenceStatistics:
    """Statistics of real ``images`` (PROTOCOL, FID: the first 10,000 test images).

    Cached as ``<cache>/fid_stats/<name>_<split>_<n>_<feature>_<preprocessing>_<sha>.npz``.
    The images' own sha256 is stored too, and a cache made from other images is refused.
    """
    images = np.asarray(images)
    preprocess.check_images(images, f"{name} {split} images")
    if images.shape[0] < 2:
        raise UserError(f"FID needs at least 2 reference images, got {images.shape[0]}")
    if extractor is None:
        extractor = get_extractor(feature, dataset=name, **extractor_kwargs)
    path = _reference_path(name, split, images.shape[0], extractor)
    digest = hashlib.sha256(np.ascontiguousarray(images).view(np.uint8)).hexdigest()
    if cache and path.is_file():
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("images_sha256") == digest:
                stats = Statistics(data["mu"], data["sigma"], int(meta["n"]), data["features"])
                return ReferenceStatistics(name, split, extractor.feature, extractor.preprocessing,
                                           extractor.checksum, stats)  # fmt: skip
    features, _ = extract_features(extractor, images, batch_size)
    stats = feature_statistics(features, keep_features=True)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"n": stats.n, "images_sha256": digest, "name": name, "split": split})
        tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, mu=stats.mu, sigma=stats.sigma, features=features, meta=np.array(meta))
        tmp.replace(path)
    return ReferenceStatistics(name, split, extractor.feature, extractor.preprocessing,
                               extractor.checksum, stats)  # fmt: skip


# --------------------------------------------------------------------------- generators


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
    feature: str = "inception",
    batch_size: int = DEFAULT_BATCH_SIZE,
    runs_per_chunk: int = 8,
    extractor: FeatureExtractor | None = None,
    kid_subset_size: int = 1000,
) -> dict[str, np.ndarray]:
    """FID (and, for Inception, IS and KID) of R generators on the fixed latents ``eval_z``.

    ``apply_fn(variables, z) -> images`` is one run's generator in inference mode (NHWC in
    [0, 1]); the leaves of ``batched_variables`` have a leading runs axis R. Runs are
    vmapped together in chunks of ``runs_per_chunk``; each jitted call generates and
    featurises about ``batch_size`` images. A run whose samples are not finite gets NaN
    (PROTOCOL, FID: a NaN result is a failed run); samples outside [0, 1] are an error.
    Returns {"fid": [R]} plus "inception_score" and "kid" for ``feature="inception"``.
    """
    if feature != reference.feature:
        raise UserError(
            f"reference statistics are {reference.feature} features but feature={feature!r}; "
            "compute the reference with the same feature"
        )
    if extractor is None:
        if feature == "inception":
            extractor = inception_extractor(preprocessing=reference.preprocessing)
        else:
            extractor = get_extractor(feature, dataset=reference.name)
    if (
        extractor.checksum != reference.checksum
        or extractor.preprocessing != reference.preprocessing
    ):
        raise UserError(
            "reference statistics were computed with other weights or preprocessing; "
            "recompute them with reference_statistics(...)"
        )
    eval_z = jnp.asarray(eval_z)
    if eval_z.ndim != 2 or eval_z.shape[0] < 2:
        raise UserError(f"eval_z has shape {tuple(eval_z.shape)}; expected [n >= 2, z_dim]")
    leaves = jax.tree.leaves(batched_variables)
    sizes = {leaf.shape[0] if np.ndim(leaf) else None for leaf in leaves}
    if not leaves or len(sizes) != 1 or None in sizes:
        raise UserError("batched_variables need one leading runs axis, equal on every leaf")
    runs = sizes.pop()
    chunk = max(1, min(runs, runs_per_chunk))
    per_call = max(1, batch_size // chunk)
    per_call = _round_batch(per_call * chunk) // chunk if jax.local_device_count() > 1 else per_call
    n = eval_z.shape[0]
    first = jax.tree.map(lambda a: a[0], batched_variables)
    sample = jax.eval_shape(apply_fn, first, eval_z[:1])
    preprocess.check_images(sample, "generated images")
    _check_shape(extractor, sample.shape[1:])
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
                raise UserError(
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
    *,
    feature: str = "inception",
    dataset: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **extractor_kwargs: Any,
) -> float:
    """FID between two image sets (uint8 or floats in [0, 1], NHWC), in one call."""
    extractor = get_extractor(feature, dataset=dataset, **extractor_kwargs)
    fa, _ = extract_features(extractor, images_a, batch_size)
    fb, _ = extract_features(extractor, images_b, batch_size)
    return fid_from_features(fa, fb)
