"""BiGAN / ALI objective (Donahue, Krähenbühl & Darrell 2017, §3; Dumoulin et al. 2017, §2;
docs/protocol.md §11.5).

D tells pairs (x, E(x)) (label 1) from (G(z), z) (label 0); E and G are trained together
against D with the labels inverted (non-saturating, as both papers train in practice):
E and G minimise E softplus(D(x, E(x))) + E softplus(-D(G(z), z)).

``out``: ``d_real`` = D(x, E(x)) logits, ``d_fake`` = D(G(z), z) logits.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp

# BiGAN's Adam 2e-4, beta1 0.5 (the BiGAN paper's appendix); ALI used 1e-4, beta1 0.5.
DEFAULTS = {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True}
HPARAMS = ()


def discriminator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-out["d_real"])) + jnp.mean(jax.nn.softplus(out["d_fake"]))


def generator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """E's and G's loss (one loss, both updated)."""
    return jnp.mean(jax.nn.softplus(out["d_real"])) + jnp.mean(jax.nn.softplus(-out["d_fake"]))
