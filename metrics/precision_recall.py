"""Precision, recall and F1 of generators on the triangles (docs/protocol.md §8).

Definitions (docs/protocol.md §8): with squared L2 distances in pixel space,

* precision(delta) = fraction of N generated samples whose distance to the triangle manifold
  is at most delta (:mod:`metrics.triangle_manifold`: pool nearest neighbour + pattern search);
* recall(delta) = fraction of N held-out test triangles whose distance to the generator's range
  is at most delta (:mod:`metrics.inversion`: screened restarts + Adam on the latent);
* F1 = 2 P R / (P + R), defined as 0 when P = R = 0.

Our choices, since the paper's were not released:

* ``DEFAULT_DELTA = 2.0``. Exact triangles come out at <= 0.25 (estimator error; 99% <= 0.1),
  the held-out set's nearest training triangle at 0.18 (median), so delta is 10x above the
  noise of the measurement. It is 4.7x below the nearest "not a triangle" we know: a blank
  image is 9.5 from the manifold (the thinnest triangle), the average of two triangles >= 7
  for 90% of pairs, uniform noise about 230, a triangle moved by 1 px >= 6.6 for 90%. Images at
  distance 2 are clean triangles whose edges are off by about 0.4 px, or blurred with a
  Gaussian of sigma ~0.6 px, or with pixel noise of sigma ~0.07 (docs/delta_scale.png).
* ``DEFAULT_N = 1000`` samples and test triangles: the standard error of a proportion is then
  at most 0.016, below the differences between models that the study reports, and one run
  costs under a minute on 2 CPU cores (docs/speed.md). The engine may pass a smaller N (CPU
  profile), and may score precision on more samples than recall inverts test triangles
  (``precision_samples``; the preview profile: 1,000 and 200), since precision costs ~2 ms a
  sample and recall's inversion ~20 ms.
* The N test triangles are the first N of the test split (fixed, like FID's first 10k), and
  the same key (so the same latents) is used for every run, so runs differ only by G.
* Curves are reported on ``DELTA_GRID`` = 2^(-3 .. 6 by 1/2) = 0.125 .. 64.

Scores that move before the samples cross delta (a generator learning triangles goes from
noise, uniform noise being ~230 from the manifold, through grey and blurry shapes, to
triangles within delta; P/R/F1 at the default delta read 0 until the last stage). Beside
P/R/F1 at the default delta each evaluation records:

* ``precision_distance``: the median squared distance of the N samples to the manifold, i.e.
  the delta at which precision would be 0.5 (held-out triangles: ~0.006; a blank image 9.5);
* ``recall_distance``: the median squared distance of the N test triangles to G's range, the
  delta at which recall would be 0.5 (a blank G: ~100, the median triangle's ink);
* ``f1_auc``: the normalised area under F1(delta) against log2(delta) over ``AUC_DELTAS`` =
  2^(-3 .. 3 by 1/2) = 0.125 .. 8 (trapezoid rule over the 13 grid points, divided by the
  6 octaves' width), in [0, 1]: 1 when F1 = 1 at every delta (a perfect generator, up to the
  estimator's error at the smallest deltas), 0 when F1 = 0 at every delta up to 8. *Our
  choice* of the upper end: 8 is below the distance of a blank image (9.5), the nearest
  non-triangle we know exactly; above it a blank G would score precision 1 and the area would
  reward nothing. The area counts samples 2 to 4 times worse than the default delta, so it
  rises before F1 at delta does.

Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN manifolds (k = 3) in any
feature space is :func:`improved_precision_recall`: pixels for the triangles, a network's
features for the other data sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from metrics import triangle_manifold
from metrics.base import EvalContext, Generators, Metric
from metrics.columns import PRECISION_RECALL_COLUMNS, PrecisionRecallSettings
from metrics.inversion import DEFAULT_INVERSION, THOROUGH_INVERSION, InversionConfig, invert
from models import priors

DEFAULT_DELTA = 2.0
DEFAULT_N = 1000
DELTA_GRID = 2.0 ** np.arange(-3.0, 6.5, 0.5)
AUC_DELTAS = DELTA_GRID[DELTA_GRID <= 8.0]  # 2^-3 .. 2^3: below a blank image's 9.5
SCORES = ("precision", "recall", "f1", "precision_distance", "recall_distance", "f1_auc")
IMAGE_SHAPE = (28, 28, 1)
DEFAULT_K = 3

ApplyFn = Callable[[Any, jax.Array], jax.Array]


def f1_score(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Harmonic mean 2PR/(P+R), 0 where P + R = 0, NaN where either is NaN."""
    p = np.asarray(precision, np.float64)
    r = np.asarray(recall, np.float64)
    total = p + r
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * p * r / np.where(total > 0, total, 1.0), 0.0 * total)


def curves(
    precision_distance: np.ndarray, recall_distance: np.ndarray, deltas: np.ndarray = DELTA_GRID
) -> dict[str, np.ndarray]:
    """Precision, recall and F1 at every delta [D] from per-sample distances [N]."""
    deltas = np.asarray(deltas, np.float64)
    p = np.mean(np.asarray(precision_distance)[None, :] <= deltas[:, None], axis=1)
    r = np.mean(np.asarray(recall_distance)[None, :] <= deltas[:, None], axis=1)
    return {"delta": deltas, "precision": p, "recall": r, "f1": f1_score(p, r)}


def f1_auc(
    precision_distance: np.ndarray, recall_distance: np.ndarray, deltas: np.ndarray = AUC_DELTAS
) -> float:
    """Normalised area under F1(delta) against log2(delta) over ``deltas`` (equally spaced in
    log2; default ``AUC_DELTAS`` = 0.125 .. 8): the trapezoid rule divided by the width of the
    range, in [0, 1]. See the module doc for why the range stops at 8."""
    deltas = np.asarray(deltas, np.float64)
    if deltas.size < 2:
        raise ValueError(f"f1_auc needs at least 2 deltas, got {deltas.size}")
    f1 = curves(precision_distance, recall_distance, deltas)["f1"]
    x = np.log2(deltas)
    area = np.sum((f1[1:] + f1[:-1]) / 2.0 * np.diff(x))
    return float(area / (x[-1] - x[0]))


def scores(
    precision_distance: np.ndarray, recall_distance: np.ndarray, delta: float = DEFAULT_DELTA
) -> dict[str, float]:
    """Every column of the metric (``SCORES``) from one generator's per-sample distances:
    P/R/F1 at ``delta``, both median distances and :func:`f1_auc`."""
    at = curves(precision_distance, recall_distance, np.array([delta]))
    return {
        "precision": float(at["precision"][0]),
        "recall": float(at["recall"][0]),
        "f1": float(at["f1"][0]),
        "precision_distance": float(np.median(precision_distance)),
        "recall_distance": float(np.median(recall_distance)),
        "f1_auc": f1_auc(precision_distance, recall_distance),
    }


def check_images(images: np.ndarray | jax.Array, what: str) -> np.ndarray:
    """float32 images [n, 28, 28, 1] in [0, 1], or a one-line ValueError naming the problem."""
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"{what} must be triangle images of shape [n, 28, 28, 1], got {images.shape}; "
            "pass the triangle data set's float pixels (ImageDataset.as_float)"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"{what} must be float pixels in [0, 1], got dtype {images.dtype}; "
            "convert with ImageDataset.as_float"
        )
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)) or images.min() < 0.0 or images.max() > 1.0:
        raise ValueError(
            f"{what} must hold finite pixels in [0, 1], got range "
            f"[{np.nanmin(images):.3g}, {np.nanmax(images):.3g}]; scale them to [0, 1]"
        )
    return images


def sample_latents(key: jax.Array, n: int, z_dim: int, prior: str) -> jax.Array:
    """The evaluation latents [n, z_dim] of ``prior`` (:func:`models.priors.sample`)."""
    return priors.sample(key, (n, z_dim), prior)


@dataclasses.dataclass(frozen=True)
class Distances:
    """Per-sample distances of one generator: of its samples to the manifold [precision_samples]
    and of the test triangles to its range [N]."""

    precision: np.ndarray
    recall: np.ndarray


def generator_distances(
    apply_fn: ApplyFn,
    variables: Any,
    *,
    z_dim: int,
    prior: str,
    test_images: np.ndarray,
    key: jax.Array,
    num_samples: int = DEFAULT_N,
    precision_samples: int | None = None,
    inversion: InversionConfig = DEFAULT_INVERSION,
    pool_size: int = triangle_manifold.DEFAULT_POOL_SIZE,
    search_steps: int = triangle_manifold.DEFAULT_SEARCH_STEPS,
) -> Distances | None:
    """Both distance sets for one generator: precision's on ``precision_samples`` generated
    samples (None: ``num_samples``), recall's on the first ``num_samples`` test triangles; None
    when its samples are not finite."""
    test_images = check_images(test_images, "test_images")
    if not 1 <= num_samples <= test_images.shape[0]:
        raise ValueError(
            f"num_samples={num_samples} must be between 1 and the {test_images.shape[0]} "
            "test images; lower num_samples"
        )
    precision_samples = num_samples if precision_samples is None else precision_samples
    if precision_samples < 1:
        raise ValueError(f"precision_samples={precision_samples} must be >= 1; pass at least 1 "
                         "(or None: num_samples)")
    sample_key, inversion_key = jax.random.split(key)
    z = sample_latents(sample_key, precision_samples, z_dim, prior)
    samples = np.asarray(apply_fn(variables, z))
    if tuple(samples.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"the generator makes images of shape {tuple(samples.shape[1:])}, not 28x28x1; "
            "precision and recall are defined on the triangles only"
        )
    if not np.all(np.isfinite(samples)):
        return None
    samples = np.clip(samples, 0.0, 1.0)
    d_precision = triangle_manifold.distance_to_manifold(
        samples, pool_size=pool_size, search_steps=search_steps
    )
    result = invert(
        apply_fn,
        variables,
        test_images[:num_samples],
        z_dim=z_dim,
        prior=prior,
        key=inversion_key,
        config=inversion,
    )
    if not np.all(np.isfinite(result.distance)):
        return None
    return Distances(precision=d_precision, recall=result.distance)


def _runs(batched_variables: Any) -> int:
    sizes = {leaf.shape[0] for leaf in jax.tree_util.tree_leaves(batched_variables)}
    if len(sizes) != 1:
        raise ValueError(f"batched_variables must share one leading runs axis, got sizes {sizes}")
    return sizes.pop()


def evaluate_generators(
    apply_fn: ApplyFn,
    batched_variables: Any,
    *,
    z_dim: int,
    prior: str,
    test_images: np.ndarray,
    key: jax.Array,
    num_samples: int = DEFAULT_N,
    delta: float = DEFAULT_DELTA,
    return_curves: bool = False,
    inversion: InversionConfig = DEFAULT_INVERSION,
    precision_samples: int | None = None,
) -> dict[str, np.ndarray]:
    """Precision, recall and F1 at ``delta`` for R runs whose variables carry a leading axis R.

    Returns float arrays [R] under "precision", "recall", "f1" and the scores that move
    before samples cross delta, "precision_distance", "recall_distance" (medians) and
    "f1_auc" (module doc; NaN for a run whose samples or reconstructions are not finite).
    With ``return_curves`` also "delta" [D] and "precision_curve", "recall_curve",
    "f1_curve" [R, D] over ``DELTA_GRID``. Every run is
    scored on the same latents and the same first ``num_samples`` test triangles; precision on
    ``precision_samples`` samples (None: ``num_samples``).
    """
    test_images = check_images(test_images, "test_images")
    num_runs = _runs(batched_variables)
    out = {name: np.full(num_runs, np.nan) for name in SCORES}
    grid = np.full((num_runs, DELTA_GRID.size), np.nan)
    curve = {"precision_curve": grid.copy(), "recall_curve": grid.copy(), "f1_curve": grid.copy()}
    for run in range(num_runs):
        variables = jax.tree_util.tree_map(lambda a, r=run: a[r], batched_variables)
        distances = generator_distances(
            apply_fn,
            variables,
            z_dim=z_dim,
            prior=prior,
            test_images=test_images,
            key=key,
            num_samples=num_samples,
            precision_samples=precision_samples,
            inversion=inversion,
        )
        if distances is None:
            continue
        for name, value in scores(distances.precision, distances.recall, delta).items():
            out[name][run] = value
        if return_curves:
            c = curves(distances.precision, distances.recall)
            for name in ("precision", "recall", "f1"):
                curve[f"{name}_curve"][run] = c[name]
    if return_curves:
        out.update(curve, delta=DELTA_GRID.copy())
    return out


# ---------------------------------------------------------------------------------------------
# Improved precision and recall (Kynkaanniemi et al. 2019).


@jax.jit
def _pairwise_sq(a: jax.Array, b: jax.Array) -> jax.Array:
    """Squared distances [A, B] (float32; the Gram form clipped at 0)."""
    d = jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
    return jnp.maximum(d, 0.0)


def _row_blocks(x: jax.Array, chunk: int) -> list[jax.Array]:
    """Rows of ``x`` in blocks of exactly ``chunk`` (the last one padded), so one compilation."""
    n = x.shape[0]
    chunk = min(chunk, n)
    pad = (-n) % chunk
    padded = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)]) if pad else x
    return [padded[s : s + chunk] for s in range(0, n + pad, chunk)]


def knn_radii(features: np.ndarray, k: int = DEFAULT_K, chunk: int = 2048) -> np.ndarray:
    """Squared distance from every feature vector to its k-th nearest other vector [n]."""
    features = jnp.asarray(features, jnp.float32)
    n = features.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k={k} needs at least k+1={k + 1} feature vectors, got {n}")
    radii = []
    for block in _row_blocks(features, chunk):
        d = _pairwise_sq(block, features)
        # The k+1 smallest include the point itself (distance 0).
        radii.append(-jax.lax.top_k(-d, k + 1)[0][:, k])
    return np.asarray(jnp.concatenate(radii)[:n], np.float64)


def _coverage(queries: jax.Array, support: jax.Array, radii: jax.Array, chunk: int) -> float:
    """Fraction of queries inside at least one ball (support_i, radius_i)."""
    inside = [
        jnp.any(_pairwise_sq(block, support) <= radii[None, :], axis=1)
        for block in _row_blocks(queries, chunk)
    ]
    return float(jnp.mean(jnp.concatenate(inside)[: queries.shape[0]]))


def improved_precision_recall(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    *,
    k: int = DEFAULT_K,
    chunk: int = 2048,
) -> dict[str, float]:
    """Improved precision and recall with k-NN manifolds (Kynkaanniemi et al. 2019).

    The real manifold is the union of balls around every real feature vector with radius its
    distance to its k-th nearest real neighbour; precision is the fraction of fake vectors in
    it. Recall swaps the roles. ``real_features`` [n, d], ``fake_features`` [m, d] (for the
    triangles: flattened pixels). Returns {"precision", "recall", "f1"}.
    """
    real = np.asarray(real_features, np.float32).reshape(len(real_features), -1)
    fake = np.asarray(fake_features, np.float32).reshape(len(fake_features), -1)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake features differ in size ({real.shape[1]} vs {fake.shape[1]}); "
            "extract both with the same feature extractor"
        )
    if not (np.all(np.isfinite(real)) and np.all(np.isfinite(fake))):
        return {"precision": np.nan, "recall": np.nan, "f1": np.nan}
    real_radii = jnp.asarray(knn_radii(real, k, chunk), jnp.float32)
    fake_radii = jnp.asarray(knn_radii(fake, k, chunk), jnp.float32)
    real_j, fake_j = jnp.asarray(real), jnp.asarray(fake)
    precision = _coverage(fake_j, real_j, real_radii, chunk)
    recall = _coverage(real_j, fake_j, fake_radii, chunk)
    return {"precision": precision, "recall": recall, "f1": float(f1_score(precision, recall))}


# ---------------------------------------------------------------------------------------------
# The metric of the registry.


def _evaluate(generators: Generators, context: EvalContext) -> dict[str, np.ndarray]:
    """Precision, recall and F1 at the default delta, the median distances and the F1 area of
    every run on the first ``settings.samples`` test triangles (precision on
    ``settings.precision_samples`` samples, None: as many); ``settings.thorough`` inverts G
    more thoroughly (the paper profile)."""
    settings: PrecisionRecallSettings = context.settings
    return evaluate_generators(
        generators.apply_fn,
        generators.variables,
        z_dim=generators.z_dim,
        prior=generators.prior,
        test_images=context.images("test"),
        key=jax.random.PRNGKey(context.seed + 1),
        num_samples=settings.samples,
        precision_samples=settings.precision_samples,
        inversion=THOROUGH_INVERSION if settings.thorough else DEFAULT_INVERSION,
    )


METRIC = Metric(
    name="precision_recall",
    columns=PRECISION_RECALL_COLUMNS,
    applies_to=lambda spec: spec.name == "triangles",
    evaluate=_evaluate,
    expensive=True,
    description="precision, recall and F1 on the triangles (docs/protocol.md §8)",
    settings=PrecisionRecallSettings(),
    # 3.5 s + 21 ms per sample on 2 CPU cores, x4 with the thorough inversion (docs/speed.md);
    # precision's samples beyond (or short of) those 2.2 ms each (distance_to_manifold: 0.7 s
    # for 200 samples, 2.5 s for 1,000 on 2 CPU cores)
    seconds=lambda settings: (
        (3.5 + 0.021 * settings.samples) * (4 if settings.thorough else 1)
        + 0.0022 * ((settings.precision_samples or settings.samples) - settings.samples)),
)
