"""DRAGAN (docs/protocol.md §2.5): NS GAN loss + lambda * penalty around perturbed real data.

The perturbation is the v1 code's (uniform noise scaled by the batch std) by default; the
option ``perturbation=gaussian`` gives the paper table's Gaussian form.
"""

from __future__ import annotations

import functools

from losses import ns_gan
from losses.base import GanLoss
from losses.penalties import dragan_penalty
from losses.wgan_gp import LAMBDA

PERTURBATIONS = ("uniform", "gaussian")


def make(perturbation: str = "uniform") -> GanLoss:
    return GanLoss(
        name="dragan",
        title="DRAGAN",
        discriminator_loss=ns_gan.discriminator_loss,
        generator_loss=ns_gan.generator_loss,
        defaults={"lr": 1e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True, "lambda": 10.0},
        hparams=(LAMBDA,),
        penalty=functools.partial(dragan_penalty, kind=perturbation),
        narrow_disc_bn=(False,),
        options={"perturbation": PERTURBATIONS},
    )


LOSS = make()
