"""SeqGAN's networks (docs/protocol.md §11): the LSTM shared by the oracle and the generator,
and the CNN discriminator over token sequences."""

from models.seqgan.discriminator import SequenceDiscriminator
from models.seqgan.lstm import (
    PARAM_ORDER,
    LSTMParams,
    init_lstm,
    lstm_from_list,
    lstm_to_list,
    mean_log_prob,
    param_shapes,
    rollout,
    sample,
    sample_many,
    teacher_forced_logits,
    token_log_probs,
)

__all__ = [
    "PARAM_ORDER",
    "LSTMParams",
    "SequenceDiscriminator",
    "init_lstm",
    "lstm_from_list",
    "lstm_to_list",
    "mean_log_prob",
    "param_shapes",
    "rollout",
    "sample",
    "sample_many",
    "teacher_forced_logits",
    "token_log_probs",
]
