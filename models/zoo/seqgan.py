"""SeqGAN (Yu et al. 2017; docs/protocol.md §11.3): MLE pretraining, then REINFORCE steps of
the LSTM generator with Monte-Carlo rollout rewards from a CNN discriminator on the oracle's
sequences. Hyperparameters as the MLE baseline's (:mod:`models.zoo.mle`)."""

from models.registry import Model, register_model
from models.zoo.mle import SEQUENCE_COMMON


@register_model("seqgan")
def recipe() -> Model:
    return Model("SeqGAN", None, common=dict(SEQUENCE_COMMON), family="sequence",
                 arch="seqgan", needs=frozenset({"sequences"}), narrow_disc_bn=(False,))
