"""SNGAN (docs/protocol.md §13.2): the hinge loss on the SNGAN paper's standard CNN with its D
spectrally normalised; Adam lr 2e-4, beta1 0, beta2 0.9 and five D updates per G update.
D has no batch norm (the architecture ignores disc_bn; it is recorded as off)."""

from models.hparams import Fixed, HParam
from models.registry import WIDTHS, Model, register_model

BETA2 = HParam("beta2", 0.9, wide=Fixed(0.9), narrow=Fixed(0.9), low=0.0, high=1.0,
               help="Adam beta2 (0.999 for the models without it)")


@register_model("sngan")
def recipe(width: str = "full") -> Model:
    return Model("SNGAN", "hinge", arch="sngan",
                 common={"lr": 2e-4, "beta1": 0.0, "n_disc": 5, "disc_bn": False},
                 options={"width": tuple(WIDTHS)}, hparams=(BETA2,), narrow_disc_bn=(False,))
