"""The semi-supervised GAN's score: its D's classification error on the test split
(docs/protocol.md §12.7; Salimans et al. 2016, Table 1 counts errors of 10,000). The metric
``semi_supervised`` applies to data sets with labels and scores the runs whose family trains
D as a classifier (``Generators.classify_fn``), in inference mode, on every test image."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from metrics.base import EvalContext, Generators, Metric
from metrics.columns import SEMI_SUPERVISED_COLUMNS, SemiSupervisedSettings

LogitsFn = Callable[[jnp.ndarray], jnp.ndarray]  # images [b, ...] -> class logits [b, K]


def predicted_classes(logits_fn: LogitsFn, images: np.ndarray,
                      batch_size: int = 1000) -> np.ndarray:
    """argmax of ``logits_fn`` over images in batches."""
    out = [np.asarray(jnp.argmax(logits_fn(jnp.asarray(images[s : s + batch_size])), -1))
           for s in range(0, images.shape[0], batch_size)]
    return np.concatenate(out)


def classification_errors(predicted: np.ndarray, labels: np.ndarray) -> int:
    """How many predictions differ from the labels."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted {predicted.shape} and labels {labels.shape} differ")
    return int(np.sum(predicted != labels))


def classifier_error(logits_fn: LogitsFn, images: np.ndarray, labels: np.ndarray,
               batch_size: int = 1000) -> tuple[int, float]:
    """(errors, error rate) of the classifier on ``images``."""
    errors = classification_errors(predicted_classes(logits_fn, images, batch_size), labels)
    return errors, errors / max(1, labels.shape[0])


@functools.cache
def _runs_logits(classify_fn: Callable) -> Callable:
    return jax.jit(jax.vmap(classify_fn, in_axes=(0, None)))


def runs_errors(classify_fn: Callable, variables: Any, images: np.ndarray, labels: np.ndarray,
                batch_size: int = 1000) -> np.ndarray:
    """Errors [R] of every run's classifier (``classify_fn`` vmapped over the runs axis of
    ``variables``) on ``images``."""
    fn = _runs_logits(classify_fn)
    predicted = np.concatenate(
        [np.asarray(jnp.argmax(fn(variables, jnp.asarray(images[s : s + batch_size])), -1))
         for s in range(0, images.shape[0], batch_size)], axis=1)
    return np.array([classification_errors(p, labels) for p in predicted])


def _evaluate(generators: Generators, context: EvalContext) -> dict[str, Any]:
    """Test errors (count, rate) of D as a classifier; {} for a model whose D is none or a
    data set without test labels."""
    labels = context.labels("test")
    if generators.classify_fn is None or labels is None:
        return {}
    settings: SemiSupervisedSettings = context.settings
    errors = runs_errors(generators.classify_fn, generators.discriminator_variables,
                         context.images("test"), labels, settings.batch_size)
    return {"test_errors": errors.astype(np.float64), "test_error": errors / labels.shape[0]}


METRIC = Metric(
    name="semi_supervised",
    columns=SEMI_SUPERVISED_COLUMNS,
    applies_to=lambda spec: "labels" in spec.offers,
    evaluate=_evaluate,
    settings=SemiSupervisedSettings(),
    seconds=lambda settings: 3.0,
    description="test error of a semi-supervised GAN's D as a classifier "
    "(docs/protocol.md §12.7)",
)
