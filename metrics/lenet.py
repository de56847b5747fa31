"""FID-LeNet: a domain FID for MNIST and Fashion-MNIST that needs no downloaded weights.

Issue 4, item 6: where the Inception weights cannot be had, real-data studies on the
28x28 data sets are scored with the penultimate features (128-d) of a small LeNet-style
classifier that the project trains itself, deterministically (a fixed PRNG key, fixed
epochs), on the train split of the data set. The trained weights are cached under
``<cache>/lenet/``; their sha256 identifies them in reference-statistics cache keys.
FID-LeNet values are comparable only with other FID-LeNet values of the same classifier,
never with the paper's Inception FID.

Train once (a couple of minutes on a CPU):
``python -m metrics.lenet --dataset mnist --data-dir /path/with/idx/files``
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmark.errors import UserError
from benchmark.paths import cache_dir

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


def _read(dataset: str, data_dir: str | Path | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    from benchmark.data import mnist, real

    folder = data_dir or os.environ.get(real.ENV_DATA_DIR)
    if not folder:
        raise UserError(
            f"FID-LeNet for {dataset} is not trained yet and needs the labelled IDX files: "
            f"pass data_dir=DIR or set ${real.ENV_DATA_DIR} ({mnist.layout_hint(dataset)})"
        )
    images, labels, _ = mnist.read_split(Path(folder).expanduser(), dataset, split)
    return images, labels.astype(np.int32)


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


def _flatten(params: Any) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def _cache_path(dataset: str, config: LeNetConfig) -> Path:
    tag = hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    return cache_dir() / "lenet" / f"{dataset}_{tag.hexdigest()[:12]}.npz"


def load_or_train(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    config: LeNetConfig | None = None,
    *,
    retrain: bool = False,
) -> tuple[dict, dict]:
    """The trained classifier of ``dataset`` (cached) and its metadata (test accuracy, sha)."""
    if dataset not in DATASETS:
        raise UserError(
            f"FID-LeNet exists for {', '.join(DATASETS)}, not {dataset!r}; use feature='inception'"
        )
    config = config or default_config(dataset)
    path = _cache_path(dataset, config)
    template = LeNet().init(jax.random.key(0), jnp.zeros((1, *IMAGE_SHAPE)))
    if path.is_file() and not retrain:
        with np.load(path) as stored:
            meta = json.loads(str(stored["meta"]))
            flat = {k: stored[k] for k in stored.files if k != "meta"}
    else:
        train_images, train_labels = _read(dataset, data_dir, "train")
        params = train(train_images, train_labels, config)
        test_images, test_labels = _read(dataset, data_dir, "test")
        flat = _flatten(params)
        digest = hashlib.sha256(b"".join(flat[k].tobytes() for k in sorted(flat))).hexdigest()
        meta = {
            "dataset": dataset,
            "config": dataclasses.asdict(config),
            "test_accuracy": accuracy(params, test_images, test_labels),
            "sha256": digest,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(meta)), **flat)
        tmp.replace(path)
    paths = jax.tree_util.tree_flatten_with_path(template)[0]
    treedef = jax.tree_util.tree_structure(template)
    try:
        leaves = [jnp.asarray(flat[jax.tree_util.keystr(p)]) for p, _ in paths]
    except KeyError:
        raise UserError(f"cached FID-LeNet {path} is stale; delete it to retrain") from None
    return jax.tree_util.tree_unflatten(treedef, leaves), meta


def lenet_extractor(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    config: LeNetConfig | None = None,
):
    """A ``metrics.fid.FeatureExtractor`` giving FID-LeNet features of 28x28x1 images."""
    from metrics.fid import FeatureExtractor

    params, meta = load_or_train(dataset, data_dir, config)
    checksum = f"lenet-{dataset}-{meta['sha256']}"
    return FeatureExtractor("lenet", features, params, checksum, "none", IMAGE_SHAPE)


def main(argv: list[str] | None = None) -> None:
    """Train (or re-train) the FID-LeNet classifier of one data set and report its accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="mnist")
    parser.add_argument("--data-dir", default=None, help="folder with the IDX .gz files")
    parser.add_argument("--epochs", type=int, default=None, help="default: per data set")
    parser.add_argument("--seed", type=int, default=LeNetConfig.seed)
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args(argv)
    config = default_config(args.dataset)
    config = dataclasses.replace(config, epochs=args.epochs or config.epochs, seed=args.seed)
    _, meta = load_or_train(args.dataset, args.data_dir, config, retrain=args.retrain)
    print(
        f"FID-LeNet {args.dataset}: test accuracy {meta['test_accuracy']:.4f}, "
        f"weights {_cache_path(args.dataset, config)} (sha256 {meta['sha256'][:16]})"
    )


if __name__ == "__main__":
    main()
