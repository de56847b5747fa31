"""The hyperparameter search spaces and the configuration sampler (docs/protocol.md §6.1,
§6.4).

Three spaces: ``default`` (the author defaults only), ``wide`` (phase 1) and ``narrow``
(phase 2). The common part (lr, beta1, n_disc, D batch norm) is defined here; each loss adds
its own ``HParam.wide`` / ``HParam.narrow`` and its narrow D batch-norm choices
(``loss.narrow_disc_bn``), so a new loss appears in every space without edits here. A
common hyperparameter the loss does not have (the VAE's n_disc) is not searched; the VAE's
disc_bn (its encoder's batch norm) is, as in compare_gan v1.

Reproducibility contract of :func:`sample_configs` (changing any of it changes the configs):

1. one ``np.random.RandomState([seed, crc32(model)])`` per (seed, model), created afresh on
   every call, so config i of a model is the same on every data set and in every study,
   whatever other models are sampled alongside (compare_gan v1 instead reseeded one
   ``random`` stream per experiment and drew the models in turn);
2. config 0 is the author default and draws nothing (in the narrow space with the loss's
   ``narrow_defaults`` applied: the VAE's is disc_bn off, v1's narrow default);
3. configs 1, 2, ... are drawn in order; within one config the parameters are drawn in
   sorted name order (as compare_gan v1's ``GetSample``); ``Fixed`` draws nothing, ``Choice``
   draws one ``randint``, ``Uniform`` and ``LogUniform`` one ``uniform`` each.

So the first k configs do not depend on how many are asked for.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

import models
from models.hparams import Choice, Distribution, Fixed, LogUniform, Uniform

SPACES = ("default", "wide", "narrow")

# docs/protocol.md §6.1: n_disc is drawn from {1, 5} only.
COMMON_WIDE: dict[str, Distribution] = {
    "lr": LogUniform(-5.0, -2.0),
    "beta1": Uniform(0.0, 1.0),
    "n_disc": Choice((1, 5)),
    "disc_bn": Choice((True, False)),
}
COMMON_NARROW: dict[str, Distribution] = {
    "lr": LogUniform(-4.0, -3.0),
    "beta1": Fixed(0.5),
    "n_disc": Fixed(1),
    # "disc_bn" comes from loss.narrow_disc_bn
}
COMMON_VALID = {"lr": (0.0, math.inf), "beta1": (0.0, 1.0)}  # as sweeps.runs.make_run checks


def support(dist: Distribution) -> tuple[Any, Any]:
    """The smallest and largest value ``dist`` can produce (for numeric distributions)."""
    if isinstance(dist, Uniform):
        return dist.low, dist.high
    if isinstance(dist, LogUniform):
        return 10.0**dist.low_exp, 10.0**dist.high_exp
    if isinstance(dist, Fixed):
        return dist.value, dist.value
    return min(dist.values), max(dist.values)


def _choice(values: tuple[Any, ...]) -> Distribution:
    return Fixed(values[0]) if len(values) == 1 else Choice(tuple(values))


def search_space(model: str, space: str) -> dict[str, Distribution]:
    """Name -> distribution of every hyperparameter that ``space`` searches for ``model``.

    ``default`` searches nothing ({}). Raises a ``ValueError`` for unknown names, and if a
    distribution could leave the hyperparameter's valid [low, high] range.
    """
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; choose one of: {', '.join(SPACES)}")
    loss = models.get(model)
    if space == "default":
        return {}
    if space == "wide":
        common = dict(COMMON_WIDE)
    else:
        common = {**COMMON_NARROW, "disc_bn": _choice(tuple(loss.narrow_disc_bn))}
    # a common hyperparameter the loss lacks is not searched (the VAE's, docs/protocol.md §2.7)
    result = {k: v for k, v in common.items() if k in loss.defaults}
    valid = dict(COMMON_VALID)
    for h in loss.hparams:
        result[h.name] = h.wide if space == "wide" else h.narrow
        valid[h.name] = (h.low, h.high)
    for name, (low, high) in valid.items():
        if name in result:
            lo, hi = support(result[name])
            if not low <= lo <= hi <= high:
                raise ValueError(f"{model}: the {space} space of {name} reaches [{lo}, {hi}], "
                                 f"outside its valid range [{low}, {high}]")
    return result


def config_zero(model: str, space: str) -> dict[str, Any]:
    """Config 0 of ``space`` as overrides of the author defaults: {} except where v1's
    narrow defaults differ (the VAE's encoder batch norm is off there, docs/protocol.md
    §2.8)."""
    loss = models.get(model)
    return dict(loss.narrow_defaults) if space == "narrow" else {}


def config_rng(model: str, seed: int = 0) -> np.random.RandomState:
    """The sampler's RandomState for ``model``: reseeded identically for every experiment."""
    return np.random.RandomState([int(seed), zlib.crc32(model.encode())])


def sample_configs(model: str, space: str, num_configs: int, seed: int = 0) -> list[dict]:
    """``num_configs`` override dicts for ``make_run``: config 0 is the author default ({},
    in the narrow space ``loss.narrow_defaults``).

    The draw order is described in this module's docstring. ``space="default"`` has only
    config 0, so it accepts only ``num_configs=1``.
    """
    if int(num_configs) != num_configs or num_configs < 1:
        raise ValueError(f"num_configs={num_configs} must be a whole number >= 1")
    dists = search_space(model, space)
    if space == "default" and num_configs != 1:
        raise ValueError(f"space 'default' has only the author default (config 0); "
                        f"pass num_configs=1 or choose space wide or narrow, not {num_configs}")
    rng = config_rng(model, seed)
    configs: list[dict] = [config_zero(model, space)]
    for _ in range(1, int(num_configs)):
        configs.append({name: dists[name].sample(rng) for name in sorted(dists)})
    return configs
