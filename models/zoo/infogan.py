"""InfoGAN (Chen et al. 2016; docs/protocol.md §12.3), unsupervised: the ``infogan_q``
architecture, trained by the ``conditional`` family with categories it draws itself (no
label is ever shown to it). Adam 2e-4, beta1 0.5 (the authors' D; their G used 1e-3)."""

from models.hparams import HParam, LogUniform
from models.registry import Model, register_model

LAMBDA_CATEGORY = HParam(
    "lambda_category", 1.0, wide=LogUniform(-1, 1), narrow=LogUniform(-0.5, 0.5), low=0.0,
    help="weight of the categorical code's mutual-information bound",
)
LAMBDA_CONTINUOUS = HParam(
    "lambda_continuous", 1.0, wide=LogUniform(-2, 1), narrow=LogUniform(-1, 0.5), low=0.0,
    help="weight of the continuous codes' mutual-information bound",
)


@register_model("infogan")
def recipe() -> Model:
    return Model("InfoGAN", "infogan",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 hparams=(LAMBDA_CATEGORY, LAMBDA_CONTINUOUS),
                 family="conditional", arch="infogan_q")
