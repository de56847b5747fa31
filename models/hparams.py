"""A model's hyperparameters: their distributions and the search-space entry of each
(docs/protocol.md §6.1). A hyperparameter's default lives here, in :class:`HParam.default`,
and nowhere else; the common ones (lr, beta1, n_disc, disc_bn) in ``Model.common``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: np.random.RandomState) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclasses.dataclass(frozen=True)
class LogUniform:
    """10^U[low_exp, high_exp]."""

    low_exp: float
    high_exp: float

    def sample(self, rng: np.random.RandomState) -> float:
        return float(10.0 ** rng.uniform(self.low_exp, self.high_exp))


@dataclasses.dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]

    def sample(self, rng: np.random.RandomState) -> Any:
        return self.values[int(rng.randint(len(self.values)))]


@dataclasses.dataclass(frozen=True)
class Fixed:
    value: Any

    def sample(self, rng: np.random.RandomState) -> Any:
        return self.value


Distribution = Uniform | LogUniform | Choice | Fixed


@dataclasses.dataclass(frozen=True)
class HParam:
    """A model-specific continuous hyperparameter: its default and its two search spaces."""

    name: str
    default: float
    wide: Distribution
    narrow: Distribution
    low: float = 0.0  # valid range, checked on user input
    high: float = math.inf
    help: str = ""
