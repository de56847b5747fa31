"""The VAE baseline (docs/protocol.md §2.7): trained on its ELBO with one Adam over all
variables; ``disc_bn`` switches the encoder's batch norm, as v1's discriminator_batchnorm."""

from models.registry import Model, register_model


@register_model("vae")
def recipe() -> Model:
    return Model(
        "VAE", "vae",
        # v1 (docs/protocol.md §2.8): the encoder's batch norm is on by default in the wide
        # space and off in the narrow one; no n_disc (v1's VAE never reads disc_iters).
        common={"lr": 5e-5, "beta1": 0.5, "disc_bn": True},
        family="vae", arch="vae", latent="normal",
        narrow_defaults={"disc_bn": False},
    )
