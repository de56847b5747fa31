"""MM GAN (docs/protocol.md §2.1), at its author defaults (§2.8)."""

from models.registry import Model, register_model


@register_model("mm_gan")
def recipe() -> Model:
    return Model("MM GAN", "mm_gan",
                 common={"lr": 5e-5, "beta1": 0.0, "n_disc": 1, "disc_bn": True})
