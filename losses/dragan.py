"""DRAGAN (docs/protocol.md §2.5): NS GAN loss + lambda * penalty around perturbed real data.

The perturbation is the v1 code's (uniform noise scaled by the batch std) by default; the
option ``perturbation=gaussian`` gives the paper table's Gaussian form.
"""

from __future__ import annotations

import functools

from losses import ns_gan
from losses.base import Objective
from losses.penalties import dragan_penalty

PERTURBATIONS = ("uniform", "gaussian")


def make(perturbation: str = "uniform") -> Objective:
    return Objective(ns_gan.discriminator_loss, ns_gan.generator_loss,
                     penalty=functools.partial(dragan_penalty, kind=perturbation))


OBJECTIVE = make()
