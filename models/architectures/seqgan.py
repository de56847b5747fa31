"""SeqGAN's networks as a registered architecture, ``seqgan`` (docs/protocol.md §11.2): the
LSTM generator (``models.seqgan.lstm``, functional parameters) and the CNN discriminator over
token sequences (``models.seqgan.discriminator``). Only the ``sequence`` family trains it
(``benchmark.runner.sequences`` with ``benchmark.training.seqgan``), sized by the profile's
SeqGAN schedule, so it builds no flax G or D of an image shape here."""

from __future__ import annotations

import flax.linen as nn

from models.registry import Architecture, NetFacts, register_architecture


@register_architecture("seqgan")
class SeqGan(Architecture):
    """The LSTM G and the CNN D of LantaoYu/SeqGAN; sizes come from the schedule."""

    family = "sequence"

    def generator(self, facts: NetFacts) -> nn.Module:
        raise NotImplementedError("the seqgan architecture's LSTM is built by "
                                  "benchmark.training.seqgan.init_state")

    def discriminator(self, facts: NetFacts) -> nn.Module:
        raise NotImplementedError("the seqgan architecture's D is "
                                  "benchmark.training.seqgan.Schedule.discriminator()")

    def unsupported(self, image_shape) -> str | None:
        return None  # token sequences of any length the schedule sets
