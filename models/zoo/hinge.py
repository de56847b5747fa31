"""Hinge GAN (compare_gan v3's ``loss_lib.hinge``; not in the paper's eight models).

Defaults (our choice): lr 2e-4, beta1 0.5, n_disc 1, D batch norm, i.e. the setting of
compare_gan v3 / SN-GAN (Miyato et al. 2018, setting A: Adam beta2 0.999 as ours) for the
hinge loss at n_disc 1, and the same D as NS GAN and LSGAN so a comparison changes the loss
only.
"""

from models.registry import Model, register_model


@register_model("hinge")
def recipe() -> Model:
    return Model("Hinge GAN", "hinge",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True})
