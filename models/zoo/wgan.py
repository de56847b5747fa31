"""WGAN (docs/protocol.md §2.3), at its author defaults (§2.8)."""

from models.hparams import HParam, LogUniform
from models.registry import Model, register_model


@register_model("wgan")
def recipe() -> Model:
    return Model(
        "WGAN", "wgan",
        common={"lr": 5e-5, "beta1": 0.5, "n_disc": 5, "disc_bn": True},
        hparams=(HParam("clip", 0.01, wide=LogUniform(-3, 0), narrow=LogUniform(-2, 0),
                        low=0.0, help="WGAN weight-clipping bound c"),),
    )
