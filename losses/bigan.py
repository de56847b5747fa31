"""BiGAN / ALI objective (Donahue, Krähenbühl & Darrell 2017, §3; Dumoulin et al. 2017, §2;
docs/protocol.md §12.5).

D tells pairs (x, E(x)) (label 1) from (G(z), z) (label 0); E and G are trained together
against D with the labels inverted (non-saturating, as both papers train in practice):
E and G minimise E softplus(D(x, E(x))) + E softplus(-D(G(z), z)).
``d_real`` = D(x, E(x)), ``d_fake`` = D(G(z), z) (:class:`losses.base.Outputs`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-out.d_real)) + jnp.mean(jax.nn.softplus(out.d_fake))


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    """E's and G's loss (one loss, both updated)."""
    return jnp.mean(jax.nn.softplus(out.d_real)) + jnp.mean(jax.nn.softplus(-out.d_fake))


OBJECTIVE = Objective(discriminator_loss, generator_loss, generator_sees_real=True)
