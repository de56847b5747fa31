"""What a loss is: a small function of discriminator outputs, plus its hyperparameters.

Following compare_gan's loss_lib/penalty_lib split (STYLE.md): the discriminator and generator
losses see only D's outputs on the real and the fake batch; a penalty is a separate function of
the discriminator and its inputs; per-loss state (BEGAN's k) is an explicit pytree. A new loss
is one file that builds a :class:`GanLoss` plus one line in ``losses/__init__.py``; it then
appears in sweeps, results and reports without further edits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

Array = jax.Array
HParams = Mapping[str, Array]  # per-run continuous hyperparameters (traced scalars)
Extra = Mapping[str, Array]  # per-run loss state, e.g. BEGAN's k


# --- hyperparameter distributions (docs/protocol.md §6.1) ------------------------------------


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
    """A loss-specific continuous hyperparameter with its default and its two search spaces."""

    name: str
    default: float
    wide: Distribution
    narrow: Distribution
    low: float = 0.0  # valid range, checked on user input
    high: float = math.inf
    help: str = ""


# --- the loss types --------------------------------------------------------------------------

DLoss = Callable[[Array, Array, HParams, Extra], Array]
GLoss = Callable[[Array, HParams, Extra], Array]
Penalty = Callable[[Callable[[Array], Array], Array, Array, Array, HParams], Array]


@dataclasses.dataclass(frozen=True)
class GanLoss:
    """A GAN of the study: its losses, architecture choice, defaults and search spaces.

    ``defaults`` holds the author defaults (docs/protocol.md §2.8): lr, beta1,
    n_disc, disc_bn and every name in ``hparams``.
    """

    name: str
    title: str
    discriminator_loss: DLoss
    generator_loss: GLoss
    defaults: Mapping[str, Any]
    hparams: tuple[HParam, ...] = ()
    architecture: str = "infogan"  # "infogan" (logits) or "began" (autoencoder L1 errors)
    penalty: Penalty | None = None
    # Applied to every D variable after each D update (WGAN's clipping).
    after_discriminator_update: Callable[[Any, HParams], Any] | None = None
    fresh_z_for_generator: bool = False
    # Per-run loss state: initial value, and its update after every step from D's outputs.
    init_extra: Callable[[], dict[str, Array]] = dict
    update_extra: Callable[[Extra, Array, Array, HParams], dict[str, Array]] | None = None
    # True: update_extra (and log_metrics) see D's outputs on the real batch and on G(z)
    # recomputed after the step's D and G updates, in training mode (v1's BEGAN hook);
    # False: the outputs of the step's D pass.
    update_extra_after_step: bool = False
    # Extra scalars to log, from (extra, d_real, d_fake, hp).
    log_metrics: Callable[[Extra, Array, Array, HParams], dict[str, Array]] | None = None
    # Narrow space's D batch-norm choices (docs/protocol.md §6.1): {yes, no} for every GAN,
    # except WGAN-GP and DRAGAN, whose critic never has batch norm there (v1 params.py).
    narrow_disc_bn: tuple[bool, ...] = (True, False)
    # Where the narrow space's config 0 differs from ``defaults`` (v1's narrow defaults).
    narrow_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # Static variants a user may pick (e.g. DRAGAN's perturbation); first is the default.
    options: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    kind: str = "gan"
    latent: str = "uniform"  # z ~ U(-1, 1) for the GANs (docs/protocol.md §3.6)

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GanLoss) and other.name == self.name


@dataclasses.dataclass(frozen=True)
class VaeLoss:
    """The VAE baseline: trained on its ELBO with one Adam over all variables.

    It has no n_disc (every step updates every variable); ``disc_bn`` switches the encoder's
    batch norm, as v1's discriminator_batchnorm does (docs/protocol.md §2.7).
    """

    name: str
    title: str
    negative_elbo: Callable[..., tuple[Array, dict[str, Array]]]
    defaults: Mapping[str, Any]
    hparams: tuple[HParam, ...] = ()
    narrow_disc_bn: tuple[bool, ...] = (True, False)
    narrow_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    options: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    kind: str = "vae"
    latent: str = "normal"  # prior N(0, I) (docs/protocol.md §2.7)

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VaeLoss) and other.name == self.name


Loss = GanLoss | VaeLoss
