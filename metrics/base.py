"""What a metric is, for the registry in :mod:`metrics.registry`.

A :class:`Metric` scores the generators of a group of runs at one evaluation step and
returns one value per run for each of its :class:`Column`s. Its evaluation function sees only
arrays, networks and generators (:class:`Generators`, :class:`EvalContext`); the caller
(``benchmark.evaluation``) builds those, with any cached resources (FID's reference).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import numpy as np
from jax.sharding import Mesh

from models import priors


@dataclasses.dataclass(frozen=True)
class Column:
    """One result column: how to read it and print it."""

    name: str
    higher_is_better: bool
    decimals: int = 3
    selects: bool = False  # phase 3 may pick a data set's best configuration by this column
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Generators:
    """The generators of R runs: one run's ``apply_fn(variables, z, labels=None) -> images``
    in inference mode (NHWC in [0, 1]) and the variables with a leading runs axis R.

    ``num_classes``: None for an unconditional G; else G can be asked for samples of given
    classes, ``apply_fn(variables, z, labels)`` with int labels [n] in [0, num_classes).
    """

    apply_fn: Callable[..., jax.Array]
    variables: Any
    z_dim: int
    prior: str
    num_classes: int | None = None

    def latents(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` latents of the runs' prior, the same for every run."""
        return priors.sample(key, (n, self.z_dim), self.prior)


@dataclasses.dataclass(frozen=True)
class EvalContext:
    """What the caller provides for one evaluation on one data set.

    ``seed`` keys every random draw of the evaluation (fixed for every run and checkpoint:
    docs/protocol.md §7.3); ``fid`` is the FID reference
    (:class:`metrics.fid.FidReference`) or None where FID cannot be computed.
    """

    dataset: str
    images: Callable[[str], np.ndarray]  # a split's float32 pixels in [0, 1], made on first use
    seed: int
    prf_samples: int = 1000
    fid_samples: int = 10_000
    thorough: bool = False  # slower, tighter estimates (the paper profile)
    fid: Any = None
    mesh: Mesh | None = None
    # a split's int class labels (aligned with ``images(split)``), or None where the data set
    # has none
    labels: Callable[[str], np.ndarray | None] = lambda split: None


class DatasetFacts(Protocol):
    """What ``Metric.applies_to`` may look at (``benchmark.data.DatasetSpec`` has it)."""

    name: str
    fid_reference_split: str | None


@dataclasses.dataclass(frozen=True)
class Metric:
    """A registry entry. ``evaluate`` returns {column: float array [R]} (and constant string
    columns such as ``fid_feature``); it may return {} when it cannot score (no reference).
    ``expensive`` metrics are computed at the last evaluation only, unless the profile asks
    for every evaluation."""

    name: str
    columns: tuple[Column, ...]
    applies_to: Callable[[DatasetFacts], bool]
    evaluate: Callable[[Generators, EvalContext], Mapping[str, Any]]
    expensive: bool = False
    description: str = ""
