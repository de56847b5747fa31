"""What an objective is: the losses a family minimises, as functions of D's outputs.

Following compare_gan's loss_lib/penalty_lib split: D's loss and G's loss both see
:class:`Outputs`, D's outputs on the real and the fake batch (and the labels where the family
has them); a penalty is a separate function of the discriminator and its inputs; per-run
state (BEGAN's k) is an explicit pytree. An objective is one file; a model
(``models.zoo``) names it, with its architecture, family, defaults and search spaces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax
import jax

Array = jax.Array
HParams = Mapping[str, Array]  # per-run continuous hyperparameters (traced scalars)
Extra = Mapping[str, Array]  # per-run objective state, e.g. BEGAN's k


@flax.struct.dataclass
class Outputs:
    """D's outputs on one step's real and fake batch (docs/protocol.md §3.2: D is applied to
    each batch separately).

    ``d_real`` [B] and ``d_fake`` [B]: D's main output (logits, or BEGAN's L1 errors).
    In G's loss ``d_real`` is None unless the objective sets ``generator_sees_real`` (then it
    is the updated D on the step's real batch). ``y``/``y_fake``: the real batch's labels and
    the labels G was asked for (None without labels). ``aux_real``/``aux_fake``: D's other
    heads by name (e.g. class logits), where D returns ``(main, {name: head})``.
    """

    d_real: Array | None
    d_fake: Array
    y: Array | None = None
    y_fake: Array | None = None
    aux_real: dict = dataclasses.field(default_factory=dict)
    aux_fake: dict = dataclasses.field(default_factory=dict)


DLoss = Callable[[Outputs, HParams, Extra], Array]
GLoss = Callable[[Outputs, HParams, Extra], Array]
Penalty = Callable[[Callable[[Array], Array], Array, Array, Array, HParams], Array]


@dataclasses.dataclass(frozen=True)
class Objective:
    """An adversarial objective (the ``gan`` family's): D's and G's losses and their hooks."""

    discriminator_loss: DLoss
    generator_loss: GLoss
    # True: G's loss sees D (updated) on the real batch too (relativistic losses); D is then
    # applied to the real batch once more in G's step. False: Outputs.d_real is None there.
    generator_sees_real: bool = False
    penalty: Penalty | None = None
    # Applied to every D variable after each D update (WGAN's clipping).
    after_discriminator_update: Callable[[Any, HParams], Any] | None = None
    # True: G's update draws its own z (WGAN-GP). False: it takes the D step's z, and the GAN
    # family takes the D step's pass of G too (docs/protocol.md §4.2).
    fresh_z_for_generator: bool = False
    # Per-run state: initial value, and its update after every step from D's outputs.
    init_extra: Callable[[], dict[str, Array]] = dict
    update_extra: Callable[[Extra, Outputs, HParams], dict[str, Array]] | None = None
    # True: update_extra (and log_metrics) see D's outputs on the real batch and on G(z)
    # recomputed after the step's D and G updates, in training mode (v1's BEGAN hook);
    # False: the outputs of the step's D pass.
    update_extra_after_step: bool = False
    # Extra scalars to log, from (extra, outputs, hp).
    log_metrics: Callable[[Extra, Outputs, HParams], dict[str, Array]] | None = None


@dataclasses.dataclass(frozen=True)
class ElboObjective:
    """The VAE's objective: ``negative_elbo(logits, x, mu, sigma) -> (value, parts)``."""

    negative_elbo: Callable[..., tuple[Array, dict[str, Array]]]
