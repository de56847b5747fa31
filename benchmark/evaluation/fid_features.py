"""FID's feature extractors and reference statistics, with their files and caches.

The metrics themselves (:mod:`metrics.fid`, :mod:`metrics.lenet`) are functions of arrays
and networks; this module finds, downloads, checks and caches what they need:

- the Inception weights ``pt_inception-2015-12-05-6726825d.pth`` (docs/protocol.md §7.1):
  ``weights_path``, else ``$GAN_BENCHMARK_INCEPTION_WEIGHTS``, else a download from the
  official release address into ``<cache>/inception/``; refused unless the sha256 matches;
  converted once to ``<cache>/inception/<sha256[:16]>.npz``;
- the FID-LeNet classifier of MNIST or Fashion-MNIST, trained once from the labelled IDX
  files and cached under ``<cache>/lenet/``;
- the reference statistics of a data set's reference split, cached under
  ``<cache>/fid_stats/`` keyed by data set, split, n, feature, preprocessing and weights,
  and refused when made from other images.

Train FID-LeNet ahead of a study: ``python -m benchmark fid-lenet --dataset mnist
--data-dir DIR``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from jax import lax
from jax.sharding import Mesh

from benchmark.data import cifar10, mnist, real
from benchmark.errors import OneLineParser, UserError
from benchmark.io import atomic_writer, cache_dir
from metrics import features, fid, lenet
from metrics.frechet import Statistics
from metrics.inception_weights import (
    WEIGHTS_ENV,
    WEIGHTS_FILENAME,
    WEIGHTS_SHA256,
    WEIGHTS_URL,
    read_state_dict,
    sha256_of,
)

# --------------------------------------------------------------------------- Inception


def _download(dest: Path) -> None:
    try:
        with urllib.request.urlopen(WEIGHTS_URL, timeout=60) as response, \
                atomic_writer(dest) as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
    except OSError as exc:  # URLError, timeouts and disk errors are all OSError
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"Inception weights {WEIGHTS_FILENAME} are missing and could not be downloaded "
            f"from {WEIGHTS_URL} ({reason}); fetch that file on a machine with internet and "
            f"set {WEIGHTS_ENV}=/path/to/{WEIGHTS_FILENAME} (or pass weights_path=...)"
        ) from None


def locate_weights(weights_path: str | Path | None = None, *, download: bool = True) -> Path:
    """The ``.pth`` file: ``weights_path``, else ``$GAN_BENCHMARK_INCEPTION_WEIGHTS``, else the
    cached download (fetched from the official release address on first use)."""
    chosen = weights_path or os.environ.get(WEIGHTS_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            source = "weights_path" if weights_path else WEIGHTS_ENV
            raise UserError(
                f"Inception weights not found at {path} (from {source}); point it at "
                f"{WEIGHTS_FILENAME}, downloadable from {WEIGHTS_URL}"
            )
        return path
    path = cache_dir() / "inception" / WEIGHTS_FILENAME
    if not path.is_file():
        if not download:
            raise UserError(
                f"Inception weights {WEIGHTS_FILENAME} are not cached; download {WEIGHTS_URL} "
                f"and set {WEIGHTS_ENV}=/path/to/{WEIGHTS_FILENAME}"
            )
        _download(path)
    return path


def load_state_dict(
    weights_path: str | Path | None = None,
    *,
    expected_sha256: str | None = WEIGHTS_SHA256,
    cache: bool = True,
) -> tuple[dict[str, np.ndarray], str]:
    """The Inception state dict as numpy arrays, and the file's sha256.

    The file is refused unless its sha256 equals ``expected_sha256`` (pass None only to
    read other weights on purpose, e.g. tests). The arrays are cached as
    ``<cache>/inception/<sha256[:16]>.npz`` so later runs skip the checksum and unpickling.
    """
    path = locate_weights(weights_path)
    digest = sha256_of(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise UserError(
            f"Inception weights {path} have sha256 {digest[:16]}..., expected "
            f"{expected_sha256[:16]}...; replace the file with {WEIGHTS_URL}"
        )
    cached = cache_dir() / "inception" / f"{digest[:16]}.npz"
    if cache and cached.is_file():
        with np.load(cached) as data:
            return {k: data[k] for k in data.files}, digest
    try:
        state = read_state_dict(path)
    except ValueError as err:
        raise UserError(str(err)) from None
    if cache:
        with atomic_writer(cached) as f:
            np.savez(f, **state)
    return state, digest


@functools.lru_cache(maxsize=4)
def inception_extractor(
    weights_path: str | None = None,
    preprocessing: str = "compare_gan",
    expected_sha256: str | None = WEIGHTS_SHA256,
    precision: lax.Precision = lax.Precision.HIGHEST,
) -> features.FeatureExtractor:
    """The FID Inception on the located weights, with ``preprocessing`` "compare_gan"
    (default) or "pytorch_fid"."""
    state, digest = load_state_dict(weights_path, expected_sha256=expected_sha256)
    try:
        return features.inception_extractor(state, digest, preprocessing, precision)
    except ValueError as err:
        raise UserError(str(err)) from None


# --------------------------------------------------------------------------- FID-LeNet


def _read_labelled(dataset: str, data_dir: str | Path | None, split: str):
    """A split's uint8 NHWC images and int32 labels from the data set's files: the IDX files
    of MNIST and Fashion-MNIST, CIFAR-10's pickled batches (archive or folder)."""
    folder = data_dir or os.environ.get(real.ENV_DATA_DIR)
    hint = cifar10.LAYOUT_HINT if dataset == "cifar10" else mnist.layout_hint(dataset)
    if not folder:
        raise UserError(
            f"FID-LeNet for {dataset} is not trained yet and needs the labelled files: "
            f"pass data_dir=DIR or set ${real.ENV_DATA_DIR} ({hint})"
        )
    if dataset == "cifar10":
        splits, labels, _ = cifar10.read_images(Path(folder).expanduser())
        return splits[split], labels[split].astype(np.int32)
    images, labels, _ = mnist.read_split(Path(folder).expanduser(), dataset, split)
    return images, labels.astype(np.int32)


def _lenet_path(dataset: str, config: lenet.LeNetConfig) -> Path:
    tag = hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    return cache_dir() / "lenet" / f"{dataset}_{tag.hexdigest()[:12]}.npz"


def _train_lenet(dataset: str, data_dir: str | Path | None, config: lenet.LeNetConfig,
                 path: Path) -> None:
    """Train FID-LeNet on ``dataset`` and write it, with its metadata, to ``path``."""
    train_images, train_labels = _read_labelled(dataset, data_dir, "train")
    params = lenet.train(train_images, train_labels, config)
    test_images, test_labels = _read_labelled(dataset, data_dir, "test")
    flat = lenet.flatten_params(params)
    meta = {
        "dataset": dataset,
        "config": dataclasses.asdict(config),
        "test_accuracy": lenet.accuracy(params, test_images, test_labels),
        "sha256": lenet.params_sha256(flat),
    }
    with atomic_writer(path) as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **flat)


def lenet_params(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    config: lenet.LeNetConfig | None = None,
    *,
    retrain: bool = False,
) -> tuple[Any, dict]:
    """The trained FID-LeNet classifier of ``dataset`` (cached) and its metadata (test
    accuracy, sha256): MNIST, Fashion-MNIST, and CIFAR-10 (the class-accuracy classifier,
    docs/protocol.md §12.7; its features are not used for FID)."""
    if dataset not in lenet.CLASSIFIER_DATASETS:
        raise UserError(f"FID-LeNet exists for {', '.join(lenet.CLASSIFIER_DATASETS)}, not "
                        f"{dataset!r}; use feature='inception'")
    config = config or lenet.default_config(dataset)
    path = _lenet_path(dataset, config)
    if retrain or not path.is_file():
        # one process trains it, the others (a study's workers, say) wait and load its file
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path.parent / f".{path.name}.lock", thread_local=False):
            if retrain or not path.is_file():
                _train_lenet(dataset, data_dir, config, path)
    with np.load(path) as stored:
        meta = json.loads(str(stored["meta"]))
        flat = {k: stored[k] for k in stored.files if k != "meta"}
    try:
        return lenet.unflatten_params(flat, lenet.IMAGE_SHAPES[dataset]), meta
    except ValueError:
        raise UserError(f"cached FID-LeNet {path} is stale; delete it to retrain") from None


def lenet_extractor(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    config: lenet.LeNetConfig | None = None,
) -> features.FeatureExtractor:
    """The FID-LeNet extractor of ``dataset`` (trained once, then cached): MNIST and
    Fashion-MNIST only (FID-LeNet is their domain FID, docs/protocol.md §7.5)."""
    if dataset not in lenet.DATASETS:
        raise UserError(f"FID-LeNet exists for {', '.join(lenet.DATASETS)}, not {dataset!r} "
                        "(CIFAR-10's classifier scores class accuracy only); use "
                        "feature='inception'")
    params, meta = lenet_params(dataset, data_dir, config)
    return lenet.extractor(params, dataset, meta["sha256"])


def get_extractor(feature: str, dataset: str | None = None, **kwargs: Any
                  ) -> features.FeatureExtractor:
    """The extractor named ``feature``: "inception", or "lenet" (trained on ``dataset``)."""
    if feature == "inception":
        return inception_extractor(**kwargs)
    if feature == "lenet":
        return lenet_extractor(dataset or "mnist", **kwargs)
    raise UserError(f"unknown FID feature {feature!r}; choose one of: inception, lenet")


# --------------------------------------------------------------------------- reference


def _reference_path(name: str, split: str, n: int, extractor: features.FeatureExtractor) -> Path:
    e = extractor
    key = f"{name}_{split}_{n}_{e.feature}_{e.preprocessing}_{e.checksum[:16]}"
    return cache_dir() / "fid_stats" / f"{key}.npz"


def reference_statistics(
    name: str,
    images: np.ndarray,
    extractor: features.FeatureExtractor,
    *,
    split: str = "test",
    cache: bool = True,
    mesh: Mesh | None = None,
    batch_size: int = features.DEFAULT_BATCH_SIZE,
) -> fid.ReferenceStatistics:
    """:func:`metrics.fid.reference_statistics`, cached on disk by (data set, split, n,
    feature, preprocessing, weights); a cache made from other images is recomputed."""
    images = np.asarray(images)
    path = _reference_path(name, split, images.shape[0], extractor)
    digest = fid.images_sha256(images)
    if cache and path.is_file():
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("images_sha256") == digest:
                stats = Statistics(data["mu"], data["sigma"], int(meta["n"]), data["features"])
                return fid.ReferenceStatistics(name, split, extractor.feature,
                                               extractor.preprocessing, extractor.checksum,
                                               stats)
    reference = fid.reference_statistics(name, images, extractor, split=split,
                                         batch_size=batch_size, mesh=mesh)
    if cache:
        stats = reference.stats
        meta = json.dumps({"n": stats.n, "images_sha256": digest, "name": name, "split": split})
        with atomic_writer(path) as f:
            np.savez(f, mu=stats.mu, sigma=stats.sigma, features=stats.features,
                     meta=np.array(meta))
    return reference


def main(argv: list[str] | None = None) -> None:
    """Train (or re-train) the FID-LeNet classifier of one data set and report its accuracy."""
    parser = OneLineParser(
        prog="python -m benchmark fid-lenet",
        description="Train the FID-LeNet classifier of MNIST or Fashion-MNIST once, so that "
        "studies on those data sets can report FID-LeNet without the Inception weights.")
    parser.add_argument("--dataset", choices=lenet.CLASSIFIER_DATASETS, default="mnist")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the IDX .gz files (CIFAR-10: its archive or folder)")
    parser.add_argument("--epochs", type=int, default=None, help="default: per data set")
    parser.add_argument("--seed", type=int, default=lenet.LeNetConfig.seed)
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args(argv)
    config = lenet.default_config(args.dataset)
    config = dataclasses.replace(config, epochs=args.epochs or config.epochs, seed=args.seed)
    _, meta = lenet_params(args.dataset, args.data_dir, config, retrain=args.retrain)
    print(f"FID-LeNet {args.dataset}: test accuracy {meta['test_accuracy']:.4f}, weights "
          f"{_lenet_path(args.dataset, config)} (sha256 {meta['sha256'][:16]})")



__all__ = ["get_extractor", "inception_extractor", "lenet_extractor", "lenet_params",
           "load_state_dict", "locate_weights", "reference_statistics"]
