"""Speed of FID feature extraction: our jitted Flax Inception against pytorch-fid.

Images per second of pool_3 extraction at 299x299, float32, the same batch size and machine
for both (docs/speed.md). Timing only: random weights are used when the published file
is absent (the speed does not depend on the values). ``python -m benchmark bench-fid``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.errors import OneLineParser, UserError, positive_int
from benchmark.evaluation import fid_features
from metrics import features, inception


def _ours() -> features.FeatureExtractor:
    try:
        return fid_features.inception_extractor()
    except UserError:
        variables = inception.FIDInceptionV3().init(jax.random.key(0), jnp.zeros((1, 299, 299, 3)))
        fn = features._inception_fn("compare_gan", jax.lax.Precision.HIGHEST)
        return features.FeatureExtractor("inception", fn, variables, "random", "compare_gan")


def _time(call, batches: int) -> float:
    call()  # compile / warm up
    start = time.perf_counter()
    for _ in range(batches):
        call()
    return time.perf_counter() - start


def bench_ours(images: np.ndarray, batches: int) -> float:
    extractor = _ours()
    x = jax.device_put(images)

    def call():
        jax.block_until_ready(features._extract_batch(extractor.fn, extractor.params, x))

    return images.shape[0] * batches / _time(call, batches)


def bench_pytorch_fid(images: np.ndarray, batches: int) -> float | None:
    try:
        import pytorch_fid.inception as pfi
        import torch
        import torchvision
    except ImportError:
        return None
    original = torchvision.models.inception.Inception3.load_state_dict
    torchvision.models.inception.Inception3.load_state_dict = lambda self, *a, **k: None
    loader, pfi.load_state_dict_from_url = pfi.load_state_dict_from_url, lambda *a, **k: None
    try:
        model = pfi.InceptionV3([3]).eval()  # random weights: timing only
    finally:
        torchvision.models.inception.Inception3.load_state_dict = original
        pfi.load_state_dict_from_url = loader
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(device)

    def call():
        with torch.no_grad():
            model(x)
        if device == "cuda":
            torch.cuda.synchronize()

    return images.shape[0] * batches / _time(call, batches)


def main(argv: list[str] | None = None) -> None:
    """Print images/s of both implementations at one batch size."""
    parser = OneLineParser(prog="python -m benchmark bench-fid",
                           description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="images per batch (default 32)")
    parser.add_argument("--batches", type=positive_int, default=3,
                        help="timed batches after a warm-up one (default 3)")
    args = parser.parse_args(argv)
    images = np.random.default_rng(0).random((args.batch_size, 299, 299, 3), dtype=np.float32)
    ours = bench_ours(images, args.batches)
    theirs = bench_pytorch_fid(images, args.batches)
    device = jax.devices()[0].device_kind
    print(f"device {device}, batch {args.batch_size}, 299x299 fp32, {args.batches} timed batches")
    print(f"ours (JAX/Flax, jit): {ours:8.1f} images/s")
    if theirs is None:
        print("pytorch-fid: not installed (pip install pytorch-fid torch torchvision)")
    else:
        print(f"pytorch-fid (torch) : {theirs:8.1f} images/s   ratio {ours / theirs:.2f}x")

