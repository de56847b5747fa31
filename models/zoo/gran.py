"""GRAN (docs/protocol.md §13.4): the non-saturating loss on GRAN's recurrent G (option
``steps``: T drawing steps, the authors' 3 or 1 or 5) and DCGAN's D, with the authors'
optimiser (§13.4): Adam with G's lr 1e-4 and D's 0.4 times it (their
``main_granI_cifar10.py``: ``epsilon_gen`` 1e-4, ``epsilon_dis`` 4e-5) and beta1 0 (their
``optimize_gan.Optimize.ADAM`` keeps no first moment after its first step)."""

import math

from models.hparams import Fixed, HParam
from models.registry import WIDTHS, Model, register_model

STEPS = ("3", "1", "5")

# D's learning rate over G's (benchmark.training.base.adam): epsilon_dis / epsilon_gen.
D_LR_RATIO = HParam("d_lr_ratio", 0.4, wide=Fixed(0.4), narrow=Fixed(0.4), low=0.0,
                    high=math.inf, help="D's learning rate over G's (1 for the models without it)")


@register_model("gran")
def recipe(steps: str = "3", width: str = "full") -> Model:
    return Model("GRAN", "ns_gan", arch="gran",
                 common={"lr": 1e-4, "beta1": 0.0, "n_disc": 1, "disc_bn": True},
                 options={"steps": STEPS, "width": tuple(WIDTHS)}, hparams=(D_LR_RATIO,))
