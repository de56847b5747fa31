"""Scores of models with an encoder (docs/protocol.md §12.8): reconstruction and
representation.

- **Reconstruction**: the squared L2 error |G(E(x)) - x|^2 per test image, in pixels and in
  the FID-LeNet classifier's 128-d features, averaged over images. It is the same distance
  as the inversion behind recall (:mod:`metrics.inversion`), so an unconditional G without an
  encoder gets the score from ``min_z |G(z) - x|^2`` (:func:`metrics.inversion.invert`) in the same
  table.
- **Representation**: the accuracy of E(x) on the test labels of a 1-nearest-neighbour
  classifier (Euclidean) and of a linear probe (multinomial logistic regression on
  standardised codes, full-batch Adam, L2 penalty), both fitted on the train split.
  scikit-learn is not a dependency: the probe is a few lines of JAX, deterministic.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metrics import lenet
from metrics.base import EvalContext, Generators, Metric
from metrics.columns import ENCODER_COLUMNS, EncoderSettings
from metrics.inversion import invert
from metrics.triangle_manifold import nearest_in_pool

EncodeFn = Callable[[jax.Array], jax.Array]  # images [b, ...] -> codes [b, d]
DecodeFn = Callable[[jax.Array], jax.Array]  # codes [b, d] -> images [b, ...]


def map_in_batches(fn: Callable[[jax.Array], jax.Array], x: np.ndarray,
                   batch_size: int = 1000) -> np.ndarray:
    return np.concatenate([np.asarray(fn(jnp.asarray(x[s : s + batch_size])))
                           for s in range(0, x.shape[0], batch_size)])


def squared_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row squared L2 distance [n] between two arrays [n, ...] (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"reconstructions {a.shape} and targets {b.shape} differ in shape")
    return np.sum((a - b).reshape(a.shape[0], -1) ** 2, axis=1)


def reconstruction_errors(encode: EncodeFn, decode: DecodeFn, images: np.ndarray,
                          features: EncodeFn | None = None,
                          batch_size: int = 500) -> dict[str, float]:
    """Mean |G(E(x)) - x|^2 in pixels ("recon_pixel") and, given ``features``, in features
    ("recon_features"); ``images`` [n, h, w, c] in [0, 1]."""
    recon = map_in_batches(lambda x: decode(encode(x)), images, batch_size)
    out = {"recon_pixel": float(np.mean(squared_errors(recon, images)))}
    if features is not None:
        out["recon_features"] = float(np.mean(squared_errors(
            map_in_batches(features, recon, batch_size),
            map_in_batches(features, images, batch_size))))
    return out


def nearest_neighbour_accuracy(train_codes: np.ndarray, train_labels: np.ndarray,
                               test_codes: np.ndarray, test_labels: np.ndarray,
                               chunk: int = 2048) -> float:
    """Accuracy of the 1-NN (Euclidean) classifier on the codes."""
    index, _ = nearest_in_pool(jnp.asarray(test_codes, jnp.float32),
                               jnp.asarray(train_codes, jnp.float32), k=1, chunk=chunk)
    predicted = np.asarray(train_labels)[np.asarray(index[:, 0])]
    return float(np.mean(predicted == np.asarray(test_labels)))


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The linear probe's fit: full-batch Adam on mean cross-entropy + l2 |W|^2."""

    steps: int = 500
    learning_rate: float = 0.05
    l2: float = 1e-4


@functools.partial(jax.jit, static_argnames=("num_classes", "steps", "learning_rate"))
def _fit_probe(x, y, l2, *, num_classes, steps, learning_rate):
    params = {"w": jnp.zeros((x.shape[1], num_classes)), "b": jnp.zeros((num_classes,))}
    opt = optax.adam(learning_rate)

    def loss(p):
        logits = x @ p["w"] + p["b"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return jnp.mean(ce) + l2 * jnp.sum(p["w"] ** 2)

    def step(carry, _):
        p, state = carry
        grads = jax.grad(loss)(p)
        updates, state = opt.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def linear_probe_accuracy(train_codes: np.ndarray, train_labels: np.ndarray,
                          test_codes: np.ndarray, test_labels: np.ndarray,
                          config: ProbeConfig = ProbeConfig()) -> float:
    """Test accuracy of multinomial logistic regression fitted on the standardised train
    codes (the train mean and standard deviation standardise both splits)."""
    train = np.asarray(train_codes, np.float64).reshape(len(train_codes), -1)
    test = np.asarray(test_codes, np.float64).reshape(len(test_codes), -1)
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    x = jnp.asarray((train - mean) / std, jnp.float32)
    x_test = jnp.asarray((test - mean) / std, jnp.float32)
    num_classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
    params = _fit_probe(x, jnp.asarray(train_labels, jnp.int32), config.l2,
                        num_classes=num_classes, steps=config.steps,
                        learning_rate=config.learning_rate)
    predicted = np.asarray(jnp.argmax(x_test @ params["w"] + params["b"], axis=-1))
    return float(np.mean(predicted == np.asarray(test_labels)))


def representation_scores(encode: EncodeFn, train_images: np.ndarray,
                          train_labels: np.ndarray, test_images: np.ndarray,
                          test_labels: np.ndarray, probe: ProbeConfig = ProbeConfig(),
                          batch_size: int = 1000) -> dict[str, float]:
    """{"nn_accuracy", "probe_accuracy"} of E's codes."""
    train = map_in_batches(encode, train_images, batch_size).reshape(len(train_images), -1)
    test = map_in_batches(encode, test_images, batch_size).reshape(len(test_images), -1)
    return {
        "nn_accuracy": nearest_neighbour_accuracy(train, train_labels, test, test_labels),
        "probe_accuracy": linear_probe_accuracy(train, train_labels, test, test_labels, probe),
    }


# --------------------------------------------------------------------------- the metric


def _evaluate(generators: Generators, context: EvalContext) -> dict[str, Any]:
    """Reconstruction and representation scores of every run's encoder on the first
    ``settings.test_samples`` test images (1-NN and probe fitted on the first
    ``settings.train_samples`` train images); an unconditional G without an encoder gets the
    reconstruction scores by inversion on the first ``settings.inversion_samples`` of them
    (where the test split has labels); {} for a G asked for classes or codes. The feature
    distance is NaN where the data set's classifier cannot be had here."""
    settings: EncoderSettings = context.settings
    test_labels, train_labels = context.labels("test"), context.labels("train")
    if generators.encode_fn is None and (generators.num_classes is not None
                                         or generators.codes is not None
                                         or settings.inversion_samples <= 0
                                         or test_labels is None):
        # a G asked for classes or codes: min over z alone is not its reconstruction; data
        # without labels: not the labelled table this metric fills
        return {}
    test = context.images("test")[: settings.test_samples]
    found = context.optional_classifier()
    features = None
    if found is not None:
        params = found[0]
        features = jax.jit(lambda x: lenet.features(params, x)[0])
    inverted = generators.encode_fn is None  # G(z*), z* = argmin_z |G(z) - x|^2, stands for E
    if inverted:
        test = test[: settings.inversion_samples]
        key = jax.random.fold_in(jax.random.PRNGKey(context.seed), 12)  # the same for every run
    encoders = (generators.variables if generators.encoder_variables is None
                else generators.encoder_variables)
    out: dict[str, list[float]] = {}
    runs = jax.tree.leaves(generators.variables)[0].shape[0]
    for r in range(runs):
        variables = jax.tree.map(lambda a, r=r: a[r], generators.variables)
        decode = jax.jit(lambda z, v=variables: generators.apply_fn(v, z))
        if inverted:
            def encode(x, v=variables):
                return jnp.asarray(invert(generators.apply_fn, v, x, z_dim=generators.z_dim,
                                          prior=generators.prior, key=key).z)
        else:
            mine = jax.tree.map(lambda a, r=r: a[r], encoders)
            encode = jax.jit(lambda x, v=mine: generators.encode_fn(v, x))
        scores = reconstruction_errors(encode, decode, test, features=features)
        scores["recon_lenet"] = scores.pop("recon_features", float("nan"))
        if not inverted and test_labels is not None and train_labels is not None:
            n = settings.train_samples
            scores.update(representation_scores(
                encode, context.images("train")[:n], train_labels[:n], test,
                test_labels[: settings.test_samples]))
        for name, value in scores.items():
            out.setdefault(name, []).append(value)
    return {name: np.asarray(values) for name, values in out.items()}


METRIC = Metric(
    name="encoder",
    columns=ENCODER_COLUMNS,
    applies_to=lambda spec: "labels" in spec.offers,  # 1-NN and probe need labels
    evaluate=_evaluate,
    expensive=True,
    settings=EncoderSettings(),
    seconds=lambda settings: (5.0 + 0.002 * (settings.train_samples + settings.test_samples)
                              + 0.021 * settings.inversion_samples),
    description="reconstruction |G(E(x)) - x|^2 and 1-NN / linear-probe accuracy of E(x), "
    "for models with an encoder; reconstruction by inversion, min_z |G(z) - x|^2, for an "
    "unconditional G without one (docs/protocol.md §12.8)",
)
