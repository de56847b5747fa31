"""ACGAN (Odena, Olah & Shlens 2017; docs/protocol.md §12.2): the ``acgan`` architecture, G's
loss as the paper writes it (``generator=paper``) or non-saturating; Adam 2e-4, beta1 0.5
(the paper's appendix)."""

from models.registry import Model, register_model


@register_model("acgan")
def recipe(generator: str = "paper") -> Model:
    return Model("ACGAN", "acgan" if generator == "paper" else "acgan.NON_SATURATING",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 family="conditional", arch="acgan", needs=frozenset({"images", "labels"}),
                 options={"generator": ("paper", "non_saturating")})
