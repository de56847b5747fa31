"""DRAGAN (docs/protocol.md §2.5), at its author defaults (§2.8); option ``perturbation``."""

from models.registry import Model, register_model
from models.zoo.wgan_gp import LAMBDA


@register_model("dragan")
def recipe(perturbation: str = "uniform") -> Model:
    return Model("DRAGAN", ("dragan.make", {"perturbation": perturbation}),
                 common={"lr": 1e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 hparams=(LAMBDA,), narrow_disc_bn=(False,),
                 options={"perturbation": ("uniform", "gaussian")})
