"""Scores of conditional and code-learning generators (docs/protocol.md §12.7).

- **Class accuracy**: N samples per class, each labelled by a classifier trained on the real
  training split (the FID-LeNet network, :mod:`metrics.lenet`); the fraction whose label is
  the class asked for, reported beside the classifier's own test accuracy (a perfect
  conditional generator scores about that).
- **Code accuracy** (InfoGAN): N samples per value of the categorical code, labelled the same
  way; code values matched one-to-one to classes by the Hungarian method on the counts
  (``scipy.optimize.linear_sum_assignment``), then the accuracy of the matched labels.
- **Intra-FID**: the Fréchet distance, per class, between the features of the samples of that
  class and of the real test images of that class; reported as the mean over classes.

The kernels here take arrays (labels, features) and a pure ``predict`` function; drawing the
samples is the caller's (:func:`samples_per_class`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from metrics import lenet
from metrics.base import EvalContext, Generators, Metric
from metrics.columns import CONDITIONAL_COLUMNS, ConditionalSettings
from metrics.frechet import fid_from_features
from metrics.lenet import LeNet

SampleFn = Callable[[jax.Array, jax.Array], jax.Array]  # (key, classes [n]) -> images [n, ...]


def class_grid(num_classes: int, per_class: int) -> np.ndarray:
    """The conditions [num_classes * per_class]: per_class of class 0, then of class 1, ..."""
    return np.repeat(np.arange(num_classes, dtype=np.int32), per_class)


def samples_per_class(sample_fn: SampleFn, key: jax.Array, num_classes: int, per_class: int,
                      batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(images [K*N, ...], conditions [K*N]) from ``sample_fn(key, classes)`` in batches."""
    conditions = class_grid(num_classes, per_class)
    images = []
    for i, start in enumerate(range(0, conditions.shape[0], batch_size)):
        batch = jnp.asarray(conditions[start : start + batch_size])
        images.append(np.asarray(sample_fn(jax.random.fold_in(key, i), batch)))
    return np.concatenate(images), conditions


@functools.partial(jax.jit, static_argnames=())
def _lenet_labels(params: Any, images: jax.Array) -> jax.Array:
    return jnp.argmax(LeNet().apply(params, images.astype(jnp.float32))[1], axis=-1)


def lenet_predict(params: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The FID-LeNet classifier's labels of images in [0, 1] (float) [n, 28, 28, 1]."""
    out = [np.asarray(_lenet_labels(params, jnp.asarray(images[s : s + batch_size])))
           for s in range(0, images.shape[0], batch_size)]
    return np.concatenate(out).astype(np.int32) if out else np.zeros((0,), np.int32)


def class_accuracy(predicted: np.ndarray, conditions: np.ndarray) -> float:
    """Fraction of samples labelled as the class they were drawn for."""
    predicted, conditions = np.asarray(predicted), np.asarray(conditions)
    if predicted.shape != conditions.shape or predicted.ndim != 1 or predicted.size == 0:
        raise ValueError(f"predicted {predicted.shape} and conditions {conditions.shape} must "
                         f"be equal non-empty [n] arrays")
    return float(np.mean(predicted == conditions))


def per_class_accuracy(predicted: np.ndarray, conditions: np.ndarray,
                       num_classes: int) -> np.ndarray:
    """Accuracy per condition [num_classes] (NaN for a class never asked for)."""
    predicted, conditions = np.asarray(predicted), np.asarray(conditions)
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = conditions == c
        if mask.any():
            out[c] = np.mean(predicted[mask] == c)
    return out


def confusion(codes: np.ndarray, predicted: np.ndarray, num_codes: int,
              num_classes: int) -> np.ndarray:
    """Counts [num_codes, num_classes] of (code, predicted class) pairs."""
    counts = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(counts, (np.asarray(codes), np.asarray(predicted)), 1)
    return counts


def code_accuracy(codes: np.ndarray, predicted: np.ndarray,
                  num_classes: int) -> tuple[float, np.ndarray]:
    """(accuracy after the best one-to-one code -> class matching, the matching [num_codes]).

    The matching maximises the matched counts (Hungarian method); with as many codes as
    classes it is a permutation. Unmatched codes (more codes than classes) count as errors.
    """
    codes, predicted = np.asarray(codes), np.asarray(predicted)
    if codes.shape != predicted.shape or codes.size == 0:
        raise ValueError(f"codes {codes.shape} and predicted {predicted.shape} must be equal "
                         f"non-empty [n] arrays")
    num_codes = int(codes.max()) + 1
    counts = confusion(codes, predicted, num_codes, num_classes)
    rows, cols = linear_sum_assignment(-counts)
    mapping = np.full(num_codes, -1, np.int64)
    mapping[rows] = cols
    return float(counts[rows, cols].sum() / codes.size), mapping


def intra_fid(fake_features: np.ndarray, fake_labels: np.ndarray, real_features: np.ndarray,
              real_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-class FID [num_classes] between fake and real features of each class (float64)."""
    out = np.empty(num_classes)
    for c in range(num_classes):
        out[c] = fid_from_features(fake_features[np.asarray(fake_labels) == c],
                                   real_features[np.asarray(real_labels) == c])
    return out


# --------------------------------------------------------------------------- the metric


def _lenet_features(params: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    fn = jax.jit(lambda x: lenet.features(params, x)[0])
    return np.concatenate([np.asarray(fn(jnp.asarray(images[s : s + batch_size])))
                           for s in range(0, images.shape[0], batch_size)])


def _samples(generators: Generators, key: jax.Array, classes: np.ndarray) -> np.ndarray:
    """[R, n, h, w, c] samples of every run for the given classes, the same latents for all."""
    z = generators.latents(key, classes.shape[0])
    fn = jax.jit(jax.vmap(generators.apply_fn, in_axes=(0, None, None)))
    return np.asarray(fn(generators.variables, z, jnp.asarray(classes)))


def _evaluate(generators: Generators, context: EvalContext) -> dict[str, Any]:
    """Class accuracy and intra-FID of a conditional G, or code accuracy of InfoGAN's code,
    from ``settings.per_class`` samples per class; {} for other models or without a
    classifier."""
    settings: ConditionalSettings = context.settings
    num = generators.num_classes or generators.codes
    found = context.classifier() if num is not None else None
    if found is None:
        return {}
    params, meta = found
    conditions = class_grid(num, settings.per_class)
    images = _samples(generators, jax.random.PRNGKey(context.seed + 2), conditions)
    runs = images.shape[0]
    out: dict[str, Any] = {"classifier_accuracy": np.full(runs, meta["test_accuracy"])}
    if generators.num_classes is None:
        out["code_accuracy"] = np.array([
            code_accuracy(conditions, lenet_predict(params, images[r]), num)[0]
            for r in range(runs)])
        return out
    out["class_accuracy"] = np.array([
        class_accuracy(lenet_predict(params, images[r]), conditions) for r in range(runs)])
    test_labels = context.labels("test")
    if test_labels is not None:
        real = _lenet_features(params, context.images("test"))
        out["intra_fid"] = np.array([
            float(np.mean(intra_fid(_lenet_features(params, images[r]), conditions, real,
                                    test_labels, num))) for r in range(runs)])
    return out


METRIC = Metric(
    name="conditional",
    columns=CONDITIONAL_COLUMNS,
    applies_to=lambda spec: spec.name in lenet.CLASSIFIER_DATASETS,
    evaluate=_evaluate,
    settings=ConditionalSettings(),
    seconds=lambda settings: 2.0 + 0.002 * 10 * settings.per_class,
    description="class accuracy, intra-FID (conditional G) and code accuracy (InfoGAN) of "
    "samples labelled by the data set's classifier (docs/protocol.md §12.7)",
)
