"""The sequence family (docs/protocol.md §11): SeqGAN and its MLE baseline on token sequences.

Its runs are not trained by the image step (:class:`~benchmark.training.Trainer`): the runner
trains a task of this family vmapped over its runs, chunk by chunk, with the chunk functions
of :mod:`benchmark.training.seqgan` (``benchmark.runner.sequences``). The family is
registered so that a model naming it is known; its image-step hooks refuse to run."""

from __future__ import annotations

from benchmark.training.base import Family, Structure
from benchmark.training.families import register_family

NAME = "sequence"


def _refuse(structure: Structure, *args, **kwargs):
    raise ValueError(f"model {structure.model!r} is trained by benchmark.runner.sequences "
                     "(benchmark.training.seqgan), not by the image step")


@register_family(NAME)
def make() -> Family:
    return Family(name=NAME, init_optimizer=_refuse, update=_refuse,
                  generator_bn_updates=_refuse, generator=_refuse, discriminator=_refuse)
