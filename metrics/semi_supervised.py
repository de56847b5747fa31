"""The semi-supervised GAN's score: its D's classification error on the test split
(docs/protocol.md §12.7; Salimans et al. 2016, Table 1 counts errors of 10,000)."""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

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
