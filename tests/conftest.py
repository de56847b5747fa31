"""Shared test facts: where the optional real data lies; the author defaults
(docs/protocol.md §2.8)."""

from __future__ import annotations

import os
from pathlib import Path

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
}
