"""DCGAN (docs/protocol.md §13.1): the non-saturating loss on DCGAN's G and D, with the paper's
Adam (lr 2e-4, beta1 0.5) and one D update per G update."""

from models.registry import WIDTHS, Model, register_model


@register_model("dcgan")
def recipe(width: str = "full") -> Model:
    return Model("DCGAN", "ns_gan", arch="dcgan",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 options={"width": tuple(WIDTHS)})
