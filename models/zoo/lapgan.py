"""LAPGAN (docs/protocol.md §13.3): a Laplacian pyramid of conditional GANs, the levels trained
together in one step by the ``multiscale`` family, with the non-saturating loss and DCGAN's
Adam (lr 2e-4, beta1 0.5; ours: the authors trained with SGD and momentum)."""

from models.registry import WIDTHS, Model, register_model


@register_model("lapgan")
def recipe(width: str = "full") -> Model:
    return Model("LAPGAN", "ns_gan", arch="lapgan", family="multiscale",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": False},
                 narrow_disc_bn=(False,), options={"width": tuple(WIDTHS)})
