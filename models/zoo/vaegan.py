"""VAE-GAN (Larsen et al. 2016; docs/protocol.md §12.6): encoder, decoder = G, D with the
reconstruction error in D's features; trained by the ``encoder`` family with the paper's
split; the decoder's GAN term minimax (the authors' code) or ``decoder_gan=non_saturating``.
Adam 3e-4, beta1 0.5 (the paper's RMSProp lr 3e-4, in the study's optimiser)."""

from models.hparams import HParam, LogUniform
from models.registry import Model, register_model

GAMMA = HParam(
    "gamma", 1e-2, wide=LogUniform(-3, 0), narrow=LogUniform(-2.5, -1.5), low=0.0,
    help="weight gamma of the feature reconstruction error in the decoder's loss",
)


@register_model("vaegan")
def recipe(decoder_gan: str = "minimax") -> Model:
    return Model("VAE-GAN",
                 "vaegan" if decoder_gan == "minimax" else "vaegan.NON_SATURATING",
                 common={"lr": 3e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
                 hparams=(GAMMA,), family="encoder", arch="vaegan", latent="normal",
                 options={"decoder_gan": ("minimax", "non_saturating")})
