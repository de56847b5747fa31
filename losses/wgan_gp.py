"""WGAN with gradient penalty (docs/protocol.md §2.4).

WGAN loss + lambda * GP; a fresh z is drawn for the generator step.
"""

from __future__ import annotations

from losses import wgan
from losses.base import GanLoss, HParam, LogUniform
from losses.penalties import wgan_gp_penalty

LAMBDA = HParam(
    "lambda", 10.0, wide=LogUniform(-1, 2), narrow=LogUniform(-1, 1), low=0.0,
    help="gradient-penalty weight lambda",
)

LOSS = GanLoss(
    name="wgan_gp",
    title="WGAN-GP",
    discriminator_loss=wgan.discriminator_loss,
    generator_loss=wgan.generator_loss,
    defaults={"lr": 1e-4, "beta1": 0.5, "n_disc": 5, "disc_bn": False, "lambda": 10.0},
    hparams=(LAMBDA,),
    penalty=wgan_gp_penalty,
    fresh_z_for_generator=True,
    narrow_disc_bn=(False,),
)
