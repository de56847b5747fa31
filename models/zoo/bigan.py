"""BiGAN (Donahue, Krähenbühl & Darrell 2017) and its stochastic-encoder variant ALI
(Dumoulin et al. 2017), docs/protocol.md §12.5: trained by the ``encoder`` family; the option
``encoder=stochastic`` is ALI (architecture ``ali``, prior N(0, I)). Adam 2e-4, beta1 0.5
(BiGAN's)."""

from losses import bigan
from models.registry import Model, register_model


@register_model("bigan")
def recipe(encoder: str = "deterministic") -> Model:
    stochastic = encoder == "stochastic"
    return Model("ALI" if stochastic else "BiGAN", bigan.OBJECTIVE,
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 family="encoder", arch="ali" if stochastic else "bigan",
                 latent="normal" if stochastic else "uniform",
                 options={"encoder": ("deterministic", "stochastic")})
