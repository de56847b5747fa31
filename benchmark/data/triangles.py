"""The triangle data set (docs/protocol.md §5.5): the generator's 80,000 images
(:mod:`metrics.triangles`), generated once, cached with checksums and split 60k/10k/10k."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from benchmark.data import cache
from benchmark.data.base import DatasetSpec, ImageDataset
from benchmark.errors import UserError
from benchmark.io import cache_dir as default_cache_dir
from metrics.triangles import (
    GENERATOR_VERSION,
    IMAGE_SIZE,
    NUM_HELD_OUT,
    NUM_IMAGES,
    NUM_TEST,
    NUM_TRAIN,
    PIXEL_SCALE,
    SEED,
    generate,
)

_SPLITS = ("train", "test", "validation")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _corrupted(path: Path, why: str) -> UserError:
    return UserError(
        f"triangle cache file {path} is corrupted ({why}); delete the folder {path.parent} "
        "and rerun: the data set is generated again"
    )


def _read_cache(directory: Path) -> dict[str, np.ndarray] | None:
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        version = manifest["generator_version"]
    except (ValueError, KeyError, TypeError) as err:
        raise _corrupted(manifest_path, f"unreadable manifest: {err}") from None
    if version != GENERATOR_VERSION:
        return None  # an older generator wrote it: regenerate
    arrays = {}
    for split in _SPLITS:
        path = directory / f"{split}.npy"
        if split not in files:
            raise _corrupted(manifest_path, f"no entry for {split}")
        if not path.exists():
            raise _corrupted(path, "file missing")
        if _sha256(path) != files[split]:
            raise _corrupted(path, "sha256 does not match manifest.json")
        try:
            arrays[split] = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise _corrupted(path, str(err)) from None
    return arrays


def _write_cache(directory: Path, arrays: dict[str, np.ndarray]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()  # an interrupted rewrite must not look valid
    files = {}
    for split in _SPLITS:
        path = directory / f"{split}.npy"
        cache.save_npy(path, arrays[split])
        files[split] = _sha256(path)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "num_images": NUM_IMAGES,
        "pixel_scale": PIXEL_SCALE,
        "files": files,
    }
    cache.save_json(manifest_path, manifest)


def split(images: np.ndarray) -> dict[str, np.ndarray]:
    """The split of the permuted set (docs/protocol.md §5.5): first 60k train, next 10k test,
    last 10k held out."""
    return {
        "train": images[:NUM_TRAIN],
        "test": images[NUM_TRAIN : NUM_TRAIN + NUM_TEST],
        "validation": images[NUM_TRAIN + NUM_TEST : NUM_TRAIN + NUM_TEST + NUM_HELD_OUT],
    }


def load_triangles(
    data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None, **_
) -> ImageDataset:
    """The 80k triangles (generated once, then read from the cache); held out in ``validation``.

    ``data_dir`` is ignored (the set is generated, not downloaded). The cache lives under
    ``cache_dir() / "datasets" / "triangles"`` unless ``cache_dir`` names another root.
    """
    del data_dir
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    directory = root / "datasets" / "triangles"
    arrays = _read_cache(directory)
    if arrays is None:
        arrays = split(generate(NUM_IMAGES, SEED))
        try:
            _write_cache(directory, arrays)
        except OSError as exc:
            raise UserError(
                f"cannot write the triangle cache in {directory} ({type(exc).__name__}: "
                f"{exc.strerror or exc}); free space there or set GAN_BENCHMARK_CACHE to a "
                "writable folder") from exc
    return ImageDataset(
        name="triangles",
        train=arrays["train"],
        test=arrays["test"],
        validation=arrays["validation"],
        pixel_scale=PIXEL_SCALE,
    )


TRIANGLES = DatasetSpec(
    name="triangles",
    title="Triangles",
    image_shape=(IMAGE_SIZE, IMAGE_SIZE, 1),
    train_steps=15625,  # 20 * 50000 // 64 (docs/protocol.md §4.5)
    eval_every=3906,
    load=load_triangles,
    splits={"train": NUM_TRAIN, "test": NUM_TEST, "validation": NUM_HELD_OUT},
    fid_reference_split=None,  # scored with precision, recall and F1 instead (metrics/)
    sources=("cache", "generated"),
    description=(
        "80k 28x28 convex triangles (seed 0), 60k train / 10k test / 10k held out; "
        "generated locally, used for precision, recall and F1"
    ),
)
