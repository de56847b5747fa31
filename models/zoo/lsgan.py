"""LSGAN (docs/protocol.md §2.2), at its author defaults (§2.8)."""

from models.registry import Model, register_model


@register_model("lsgan")
def recipe() -> Model:
    return Model("LSGAN", "lsgan",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True})
