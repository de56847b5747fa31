"""What a metric is, for the registry in :mod:`metrics.registry`.

A :class:`Metric` scores the generators of a group of runs at one evaluation step and
returns one value per run for each of its :class:`Column`s. Its evaluation function sees only
arrays, networks and generators (:class:`Generators`, :class:`EvalContext`); the caller
(``benchmark.evaluation.evaluator``) builds those, with any cached resources (FID's reference).
A metric declares its settings (a frozen dataclass of defaults, JAX-free in
:mod:`metrics.columns`); a profile changes them by metric name (``sweeps.config``:
``evaluation.metrics.<name>``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import numpy as np
from jax.sharding import Mesh

from metrics.columns import Column
from models import priors


@dataclasses.dataclass(frozen=True)
class Generators:
    """The generators of R runs: one run's ``apply_fn(variables, z, labels=None) -> images``
    in inference mode (NHWC in [0, 1]) and the variables with a leading runs axis R.

    ``num_classes``: None for an unconditional G; else G can be asked for samples of given
    classes, ``apply_fn(variables, z, labels)`` with int labels [n] in [0, num_classes).
    ``codes``: where G's labels are a categorical code it learned without labels (InfoGAN),
    the number of code values (``num_classes`` is then None). ``encode_fn(variables, x) ->
    codes [n, d]``: the runs' encoder in inference mode (its mean for a stochastic one), or
    None for a model without one; it takes ``encoder_variables`` (leading runs axis R) where
    given (the VAE's encoder sits where D sits), else the generator's ``variables`` (an
    encoder held with G: BiGAN, ALI, VAE-GAN). ``classify_fn(d_variables, x) ->
    class logits [n, K]``: the runs' D in inference mode where it is trained as a classifier
    (the semi-supervised GAN), on ``discriminator_variables`` (leading runs axis R); else None.
    """

    apply_fn: Callable[..., jax.Array]
    variables: Any
    z_dim: int
    prior: str
    num_classes: int | None = None
    codes: int | None = None
    encode_fn: Callable[[Any, jax.Array], jax.Array] | None = None
    classify_fn: Callable[[Any, jax.Array], jax.Array] | None = None
    discriminator_variables: Any = None
    encoder_variables: Any = None

    def latents(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` latents of the runs' prior, the same for every run."""
        return priors.sample(key, (n, self.z_dim), self.prior)


@dataclasses.dataclass(frozen=True)
class EvalContext:
    """What the caller provides for one metric's evaluation on one data set.

    ``seed`` keys every random draw of the evaluation (fixed for every run and checkpoint:
    docs/protocol.md §7.3); ``settings`` is the evaluated metric's settings (its
    ``Metric.settings`` changed by the profile); ``reference(n)`` gives the feature statistics
    of the first ``n`` images of the data set's reference split (cached by the caller;
    :class:`metrics.fid.FidReference`), or None where none can be computed.
    """

    dataset: str
    images: Callable[[str], np.ndarray]  # a split's float32 pixels in [0, 1], made on first use
    seed: int
    settings: Any = None
    reference: Callable[[int], Any] = lambda n: None
    mesh: Mesh | None = None
    # a split's int class labels (aligned with ``images(split)``), or None where the data set
    # has none
    labels: Callable[[str], np.ndarray | None] = lambda split: None
    # the data set's classifier trained on its train split (FID-LeNet's network:
    # (params, {"test_accuracy": ...})), or None where there is none; loaded on first use
    classifier: Callable[[], Any] = lambda: None
    # the same, or None where it cannot be had here (its labelled files absent): for scores
    # that do without it (the encoder metric's feature distance is then NaN)
    optional_classifier: Callable[[], Any] = lambda: None


class DatasetFacts(Protocol):
    """What ``Metric.applies_to`` may look at (``benchmark.data.DatasetSpec`` has it)."""

    name: str
    fid_reference_split: str | None
    offers: frozenset[str]  # "images", and "labels" where the data set has classes


@dataclasses.dataclass(frozen=True)
class Metric:
    """A registry entry. ``evaluate`` returns {column: float array [R]} (and constant string
    columns such as ``fid_feature``); it may return {} when it cannot score (no reference).
    ``expensive`` metrics are computed at the last evaluation only, unless the profile asks
    for every evaluation. ``settings``: the defaults of its settings (a frozen dataclass, or
    None); ``seconds(settings)``: a prior guess of one run's evaluation seconds on 2 CPU cores
    (the progress bar's weight until an evaluation is measured)."""

    name: str
    columns: tuple[Column, ...]
    applies_to: Callable[[DatasetFacts], bool]
    evaluate: Callable[[Generators, EvalContext], Mapping[str, Any]]
    expensive: bool = False
    description: str = ""
    settings: Any = None
    seconds: Callable[[Any], float] = lambda settings: 5.0

    def configure(self, changes: Mapping[str, Any] | None = None) -> Any:
        """This metric's settings: its defaults with ``changes`` (a profile's, by setting
        name). An unknown setting is a one-line ``ValueError`` naming the known ones."""
        changes = dict(changes or {})
        if not changes:
            return self.settings
        known = ([f.name for f in dataclasses.fields(self.settings)]
                 if dataclasses.is_dataclass(self.settings) else [])
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"metric {self.name!r} has no setting {unknown[0]!r}; choose one "
                             f"of: {', '.join(known) or '(none)'}")
        return dataclasses.replace(self.settings, **changes)
