"""GRAN (docs/protocol.md §13.4): the non-saturating loss on GRAN's recurrent G (option
``steps``: T drawing steps, the authors' 3 or 1 or 5) and DCGAN's D, with DCGAN's Adam (lr
2e-4, beta1 0.5; ours: the authors' optimiser settings are not those of this benchmark)."""

from losses import ns_gan
from models.registry import WIDTHS, Model, register_model

STEPS = ("3", "1", "5")


@register_model("gran")
def recipe(steps: str = "3", width: str = "full") -> Model:
    return Model("GRAN", ns_gan.OBJECTIVE, arch="gran",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 options={"steps": STEPS, "width": tuple(WIDTHS)})
