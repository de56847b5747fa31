"""VAE-GAN objective (Larsen et al. 2016, §2 and Algorithm 1; docs/protocol.md §12.6).

L_prior = KL(q(z|x) || N(0, I)) (the VAE's, §2.7); L_llike = the Gaussian negative
log-likelihood (sigma 1, constant dropped) of Dis_l(x) given Dis_l(x~), x~ = Dec(Enc(x)):
0.5 sum_features (Dis_l(x) - Dis_l(x~))^2, mean over the batch; L_GAN = log D(x) +
log(1 - D(x~)) + log(1 - D(Dec(z_p))), z_p ~ N(0, I). The paper's split (Algorithm 1): the
encoder minimises L_prior + L_llike; the decoder minimises gamma L_llike plus L_GAN's terms it
can move, E log(1 - D(x~)) + E log(1 - D(Dec(z_p))) (minimax, as the authors' code's reversed
decoder gradient; :func:`decoder_loss_non_saturating` is the option); D maximises L_GAN.
Algorithm 1 prints the GAN term's signs so that, read literally, D and the decoder would swap
roles; we read it as the authors' code runs it (docs/protocol.md §12.6, also for where that
code differs).

``out``: ``mu``, ``sigma`` (the encoder's); ``features_real``/``features_recon`` = Dis_l of x
and x~; ``d_real``, ``d_recon``, ``d_prior`` = D's logits on x, x~ and Dec(z_p).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from losses.base import Array
from losses.vae import kl_divergence


def feature_reconstruction(out: Mapping) -> jax.Array:
    """L_llike in D's layer l."""
    diff = out["features_real"] - out["features_recon"]
    return jnp.mean(0.5 * jnp.sum(diff.reshape(diff.shape[0], -1) ** 2, axis=-1))


def prior_loss(out: Mapping) -> jax.Array:
    return kl_divergence(out["mu"], out["sigma"])


def discriminator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """-L_GAN: BCE(x -> real) + BCE(x~ -> fake) + BCE(Dec(z_p) -> fake)."""
    return (jnp.mean(jax.nn.softplus(-out["d_real"])) + jnp.mean(jax.nn.softplus(out["d_recon"]))
            + jnp.mean(jax.nn.softplus(out["d_prior"])))


def encoder_loss(out: Mapping, hp: Mapping) -> jax.Array:
    return prior_loss(out) + feature_reconstruction(out)


def decoder_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """gamma L_llike + E log(1 - D(x~)) + E log(1 - D(Dec(z_p)))."""
    return (hp["gamma"] * feature_reconstruction(out) - jnp.mean(jax.nn.softplus(out["d_recon"]))
            - jnp.mean(jax.nn.softplus(out["d_prior"])))


def decoder_loss_non_saturating(out: Mapping, hp: Mapping) -> jax.Array:
    """gamma L_llike - E log D(x~) - E log D(Dec(z_p))."""
    return (hp["gamma"] * feature_reconstruction(out)
            + jnp.mean(jax.nn.softplus(-out["d_recon"]))
            + jnp.mean(jax.nn.softplus(-out["d_prior"])))


@dataclasses.dataclass(frozen=True)
class VaeGanObjective:
    """The encoder family's VAE-GAN objective: D's, the encoder's and the decoder's losses of
    the ``out`` mapping above."""

    discriminator_loss: Callable[[Mapping, Mapping], Array]
    encoder_loss: Callable[[Mapping, Mapping], Array]
    decoder_loss: Callable[[Mapping, Mapping], Array]


OBJECTIVE = VaeGanObjective(discriminator_loss, encoder_loss, decoder_loss)
NON_SATURATING = VaeGanObjective(discriminator_loss, encoder_loss, decoder_loss_non_saturating)
