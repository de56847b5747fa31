"""The MLE baseline of SeqGAN (docs/protocol.md §11.3): the LSTM generator trained by maximum
likelihood (teacher forcing) on the oracle's sequences, SeqGAN's pretraining alone. ``lr`` is
G's Adam learning rate (generator.py ``learning_rate`` 0.01) and ``beta1`` its first moment
(TensorFlow's Adam default, 0.9); the other rates are ``benchmark.training.seqgan.HPARAMS``."""

from models.registry import Model, register_model

SEQUENCE_COMMON = {"lr": 0.01, "beta1": 0.9, "disc_bn": False}  # D has no batch norm


@register_model("mle")
def recipe() -> Model:
    return Model("MLE", None, common=dict(SEQUENCE_COMMON), family="sequence", arch="seqgan",
                 needs=frozenset({"sequences"}), narrow_disc_bn=(False,))
