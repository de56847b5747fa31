"""Shared test facts: where the optional real data lies; the author defaults
(docs/protocol.md §2.8); cheap exact stand-ins for the metrics."""

from __future__ import annotations

import os
from pathlib import Path

# The suite is bound by XLA compiling hundreds of small programs, most run for a few steps:
# LLVM's optimisation of the CPU code is most of each compilation (about 60% of a GAN train
# step's). Tests (and the subprocesses they start, which inherit the variable) skip it; the
# ops and their order are XLA's as before, only the machine code is less optimised. Set before
# any backend starts (importing jax starts none).
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()

# One on-disk cache of compiled programs for the whole run: the xdist workers, and the
# subprocesses the tests start (they inherit the variables), compile the same small programs
# (smoke structures); the first to compile one stores it, the others load it. A clean checkout
# starts it empty (it lives in the git-ignored .cache/ of the checkout), so CI measures the
# same suite; set JAX_COMPILATION_CACHE_DIR to choose another place.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      str(Path(__file__).resolve().parents[1] / ".cache" / "jax-tests"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from benchmark.evaluation.evaluator import Evaluator  # noqa: E402
from metrics.base import Column, Metric  # noqa: E402


def two_device_env() -> dict[str, str]:
    """The environment of a subprocess with two virtual CPU devices: this one's, with
    XLA's device-count flag added beside the flags above (not in place of them)."""
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    return {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": flags.strip()}


def pytest_collection_modifyitems(config, items):
    """The tests marked ``slow`` (the minute-long end-to-end ones) first, the rest in their
    order: xdist hands tests out in this order, so the long ones start at once on every worker
    and the short ones fill the end, instead of one long test running alone at the end
    (longest-first scheduling; nothing depends on the order)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# ../shared/data beside the checkout (CI and this workplace), or $GAN_BENCHMARK_SHARED_DATA.
SHARED_DATA = Path(
    os.environ.get("GAN_BENCHMARK_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)

AUTHOR_DEFAULTS = {  # docs/protocol.md §2.8
    "mm_gan": {"lr": 5e-5, "beta1": 0.0, "n_disc": 1, "disc_bn": True},
    "ns_gan": {"lr": 5e-5, "beta1": 0.0, "n_disc": 1, "disc_bn": True},
    "lsgan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
    "wgan": {"lr": 5e-5, "beta1": 0.5, "n_disc": 5, "disc_bn": True, "clip": 0.01},
    "wgan_gp": {"lr": 1e-4, "beta1": 0.5, "n_disc": 5, "disc_bn": False, "lambda": 10.0},
    "dragan": {"lr": 1e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True, "lambda": 10.0},
    "began": {"lr": 1e-4, "beta1": 0.5, "n_disc": 5, "disc_bn": False, "lambda_k": 1e-3,
              "gamma": 0.75},
    "vae": {"lr": 5e-5, "beta1": 0.5, "disc_bn": True},  # encoder BN; no n_disc
    "hinge": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},  # not in the paper
    "rsgan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},  # not in the paper
    # issue 21's models (docs/protocol.md §13.6), not in the paper
    "dcgan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
    "sngan": {"lr": 2e-4, "beta1": 0.0, "n_disc": 5, "disc_bn": False, "beta2": 0.9},
    "gran": {"lr": 1e-4, "beta1": 0.0, "n_disc": 1, "disc_bn": True, "d_lr_ratio": 0.4},
    "lapgan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": False},
    # issues 20 and 22's models (docs/protocol.md §12), not in the paper
    "cgan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
    "acgan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
    "infogan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True,
                "lambda_category": 1.0, "lambda_continuous": 1.0},
    "bigan": {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
    "vaegan": {"lr": 3e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True, "gamma": 0.01},
    "ssgan": {"lr": 3e-3, "beta1": 0.5, "n_disc": 1, "disc_bn": False,
              "unsupervised_weight": 0.5},
    # issue 23's sequence models (docs/protocol.md §11): G's Adam (generator.py), no n_disc
    "mle": {"lr": 0.01, "beta1": 0.9, "disc_bn": False},
    "seqgan": {"lr": 0.01, "beta1": 0.9, "disc_bn": False},
}


def sample_mean_metrics(self, structure, states, last):
    """An ``Evaluator.metrics`` that replaces P/R/F1 (tested in test_precision_recall) by a
    cheap exact function of G: each run's mean sample pixel. Subprocess scripts assign it."""
    samples = self.samples(structure, states)
    return {"sample_mean": samples.reshape(samples.shape[0], -1).mean(axis=1)}


@pytest.fixture
def cheap_metrics(monkeypatch):
    monkeypatch.setattr(Evaluator, "metrics", sample_mean_metrics)


def mean_pixel_metric(dataset: str) -> Metric:
    """A toy registry metric on ``dataset``: the mean pixel of 16 samples of each run."""

    def evaluate(generators, context):
        z = generators.latents(jax.random.PRNGKey(context.seed), 16)
        images = jax.vmap(generators.apply_fn, in_axes=(0, None))(generators.variables, z)
        return {"mean_pixel": np.asarray(images.mean(axis=(1, 2, 3, 4)))}

    return Metric("mean_pixel", (Column("mean_pixel", higher_is_better=True, decimals=4),),
                  applies_to=lambda spec: spec.name == dataset, evaluate=evaluate)
