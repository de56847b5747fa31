"""The semi-supervised GAN (Salimans et al. 2016, feature matching; docs/protocol.md §12.4):
the ``ssgan`` architecture (D a K-class classifier whose real logit is the log-sum-exp of its
class logits), trained by the ``semi_supervised`` family on all images and a fixed subset of
100 labels. Adam lr 0.003, beta1 0.5 and the halved unsupervised loss are the authors'
(``train_mnist_feature_matching.py``); D without batch norm, as theirs."""

from models.hparams import HParam, LogUniform
from models.registry import Model, register_model

# The authors' script: loss_unl = 0.5 (...) times unlabeled_weight (default 1), so w = 0.5;
# the narrow space keeps that weight within a factor of about 3, the wide within 100.
UNSUPERVISED_WEIGHT = HParam(
    "unsupervised_weight", 0.5, wide=LogUniform(-2, 1), narrow=LogUniform(-1, 0), low=0.0,
    help="weight of the unsupervised (real/fake) loss beside the labelled cross-entropy",
)


@register_model("ssgan")
def recipe() -> Model:
    return Model("SSGAN", "ssgan",
                 common={"lr": 3e-3, "beta1": 0.5, "n_disc": 1, "disc_bn": False},
                 hparams=(UNSUPERVISED_WEIGHT,), family="semi_supervised", arch="ssgan",
                 needs=frozenset({"images", "labels"}), narrow_disc_bn=(False,))
