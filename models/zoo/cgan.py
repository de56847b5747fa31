"""CGAN (Mirza & Osindero 2014; docs/protocol.md §12.1): the ``cgan`` architecture, the
non-saturating loss, trained by the ``conditional`` family on images and labels. Adam 2e-4,
beta1 0.5 (the CGAN paper used SGD with momentum; these are ACGAN's and DCGAN's)."""

from models.registry import Model, register_model


@register_model("cgan")
def recipe() -> Model:
    return Model("CGAN", "cgan",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 family="conditional", arch="cgan", needs=frozenset({"images", "labels"}))
