"""Shared test settings: where the optional real data lies."""

from __future__ import annotations

import os
from pathlib import Path

# ../shared/data beside the checkout (CI and this workplace), or $GAN_BENCHMARK_SHARED_DATA.
SHARED_DATA = Path(
    os.environ.get("GAN_BENCHMARK_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
