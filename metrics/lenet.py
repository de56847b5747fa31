"""FID-LeNet: a domain FID for MNIST and Fashion-MNIST that needs no downloaded weights.

Where the Inception weights cannot be had, real-data studies on the 28x28 data sets are
scored with the penultimate features (128-d) of a small LeNet-style classifier that the
project trains itself, deterministically (a fixed PRNG key, fixed epochs), on the train
split of the data set (docs/protocol.md §7.5). The caller caches the trained weights
(``benchmark.evaluation.fid_features``); their sha256 identifies them in reference-statistics cache
keys. FID-LeNet values are comparable only with other FID-LeNet values of the same
classifier, never with the paper's Inception FID.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from metrics.features import FeatureExtractor

DATASETS = ("mnist", "fashion_mnist")
IMAGE_SHAPE = (28, 28, 1)
FEATURE_DIM = 128


@dataclasses.dataclass(frozen=True)
class LeNetConfig:
    """Training recipe; every field is part of the cache key."""

    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0


# Fashion-MNIST needs more epochs to pass 88% test accuracy (5 epochs: 89.9%; 3: 88.2%).
DEFAULT_EPOCHS = {"mnist": 3, "fashion_mnist": 5}


def default_config(dataset: str) -> LeNetConfig:
    """The recipe used unless one is given: Adam 1e-3, batch 128, seed 0, per-dataset epochs."""
    return LeNetConfig(epochs=DEFAULT_EPOCHS.get(dataset, LeNetConfig.epochs))


class LeNet(nn.Module):
    """conv16 5x5/2 -> conv32 5x5/2 -> fc128 (features) -> fc10 (logits), ReLU throughout.

    LeNet's two 5x5 convs and two fully connected layers, with stride-2 convs in place of
    the pooling layers: six times fewer operations, so training takes a minute on a CPU.
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = nn.relu(nn.Conv(16, (5, 5), strides=2, name="conv1")(x))
        x = nn.relu(nn.Conv(32, (5, 5), strides=2, name="conv2")(x))
        features = nn.relu(nn.Dense(FEATURE_DIM, name="fc1")(x.reshape(x.shape[0], -1)))
        return features, nn.Dense(10, name="fc2")(features)


def _loss(params: Any, images: jax.Array, labels: jax.Array) -> jax.Array:
    _, logits = LeNet().apply(params, images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def train(images: np.ndarray, labels: np.ndarray, config: LeNetConfig = LeNetConfig()) -> dict:
    """Adam on cross-entropy; the whole run is a pure function of ``config.seed``.

    ``images`` are uint8 NHWC; every epoch visits a fresh permutation drawn from the key
    (the last partial batch dropped), one jitted step per batch.
    """
    key = jax.random.key(config.seed)
    init_key, key = jax.random.split(key)
    params = LeNet().init(init_key, jnp.zeros((1, *IMAGE_SHAPE)))
    optimizer = optax.adam(config.learning_rate)

    @jax.jit
    def step(params, opt_state, images, labels):
        x = images.astype(jnp.float32) / 255.0
        grads = jax.grad(_loss)(params, x, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    opt_state = optimizer.init(params)
    steps = images.shape[0] // config.batch_size
    for epoch_key in jax.random.split(key, config.epochs):
        order = np.asarray(jax.random.permutation(epoch_key, images.shape[0]))
        for i in range(steps):
            batch = order[i * config.batch_size : (i + 1) * config.batch_size]
            params, opt_state = step(params, opt_state, images[batch], labels[batch])
    return jax.device_get(params)


def features(params: Any, images: jax.Array) -> tuple[jax.Array, None]:
    """Penultimate (128-d) features of [n, 28, 28, 1] images in [0, 1]; no logits."""
    feats, _ = LeNet().apply(params, images.astype(jnp.float32))
    return feats, None


def accuracy(params: Any, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> float:
    """Test accuracy of uint8 images."""
    predict = jax.jit(lambda p, x: jnp.argmax(LeNet().apply(p, x)[1], axis=-1))
    hits = 0
    for start in range(0, images.shape[0], batch):
        x = jnp.asarray(images[start : start + batch], jnp.float32) / 255.0
        hits += int(jnp.sum(predict(params, x) == jnp.asarray(labels[start : start + batch])))
    return hits / images.shape[0]


def flatten_params(params: Any) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def params_sha256(flat: dict[str, np.ndarray]) -> str:
    """sha256 of flattened parameters: identifies a trained classifier in cache keys."""
    return hashlib.sha256(b"".join(flat[k].tobytes() for k in sorted(flat))).hexdigest()


def unflatten_params(flat: dict[str, np.ndarray]) -> Any:
    """The parameter tree of :func:`flatten_params`' output; ValueError if it does not fit."""
    template = LeNet().init(jax.random.key(0), jnp.zeros((1, *IMAGE_SHAPE)))
    paths = jax.tree_util.tree_flatten_with_path(template)[0]
    treedef = jax.tree_util.tree_structure(template)
    try:
        leaves = [jnp.asarray(flat[jax.tree_util.keystr(p)]) for p, _ in paths]
    except KeyError as missing:
        raise ValueError(f"stored FID-LeNet parameters lack {missing}") from None
    return jax.tree_util.tree_unflatten(treedef, leaves)


def extractor(params: Any, dataset: str, checksum: str) -> FeatureExtractor:
    """A :class:`~metrics.features.FeatureExtractor` giving FID-LeNet features of 28x28x1
    images, for the classifier trained on ``dataset`` (``checksum``: its params' sha256)."""
    return FeatureExtractor("lenet", features, params, f"lenet-{dataset}-{checksum}", "none",
                            IMAGE_SHAPE)
