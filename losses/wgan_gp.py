"""WGAN with gradient penalty (docs/protocol.md §2.4).

WGAN loss + lambda * GP; a fresh z is drawn for the generator step.
"""

from __future__ import annotations

from losses import wgan
from losses.base import Objective
from losses.penalties import wgan_gp_penalty

OBJECTIVE = Objective(wgan.discriminator_loss, wgan.generator_loss, penalty=wgan_gp_penalty,
                      fresh_z_for_generator=True)
