"""RSGAN, the relativistic standard GAN (Jolicoeur-Martineau 2018; not in the paper's eight):
the worked example of a loss whose G step needs D on the real batch (losses/rsgan.py).

Defaults (our choice): those of the hinge GAN (lr 2e-4, beta1 0.5, n_disc 1, D batch norm),
the DCGAN-style setting the RSGAN paper trained at.
"""

from models.registry import Model, register_model


@register_model("rsgan")
def recipe() -> Model:
    return Model("RSGAN", "rsgan",
                 common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True})
