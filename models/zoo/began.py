"""BEGAN (docs/protocol.md §2.6), at its author defaults (§2.8), with the autoencoder D;
options ``clip_k`` and ``k_update`` (losses/began.py)."""

from models.hparams import Fixed, HParam, LogUniform, Uniform
from models.registry import Model, register_model


@register_model("began")
def recipe(clip_k: str = "no", k_update: str = "after") -> Model:
    return Model(
        "BEGAN", ("began.make", {"clip_k": clip_k, "k_update": k_update}),
        common={"lr": 1e-4, "beta1": 0.5, "n_disc": 5, "disc_bn": False},
        hparams=(
            HParam("lambda_k", 1e-3, wide=LogUniform(-4, -2), narrow=Fixed(1e-3), low=0.0,
                   help="BEGAN's k learning rate lambda_k"),
            HParam("gamma", 0.75, wide=Uniform(0.0, 1.0), narrow=Uniform(0.6, 0.9), low=0.0,
                   high=1.0, help="BEGAN's diversity ratio gamma"),
        ),
        arch="began",
        options={"clip_k": ("no", "yes"), "k_update": ("after", "before")},
    )
