"""WGAN-GP (docs/protocol.md §2.4), at its author defaults (§2.8)."""

from models.hparams import HParam, LogUniform
from models.registry import Model, register_model

LAMBDA = HParam("lambda", 10.0, wide=LogUniform(-1, 2), narrow=LogUniform(-1, 1), low=0.0,
                help="gradient-penalty weight lambda")


@register_model("wgan_gp")
def recipe() -> Model:
    return Model("WGAN-GP", "wgan_gp",
                 common={"lr": 1e-4, "beta1": 0.5, "n_disc": 5, "disc_bn": False},
                 hparams=(LAMBDA,), narrow_disc_bn=(False,))
