"""ACGAN objective (Odena, Olah & Shlens 2017, §3; docs/protocol.md §11.2).

L_S = E log P(S=real | x_real) + E log P(S=fake | x_fake),
L_C = E log P(C=c | x_real) + E log P(C=c | x_fake).
D maximises L_S + L_C; G maximises L_C - L_S, as the paper writes it (the G term of L_S is
then the minimax one, E log(1 - sigma(D(G)))); :func:`generator_loss_non_saturating` is the
usual practice, -E log sigma(D(G)) + CE, offered as an option.

``out``: ``d_real``/``d_fake`` = D's outputs {"logit" [B], "class_logits" [B, K]} on the real
batch and on G(z, y'); ``y_real`` the real labels; ``y_fake`` the classes y' G was asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax

DEFAULTS = {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True}  # the paper's appendix
HPARAMS = ()


def _class_ce(logits: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def source_loss(out: Mapping) -> jax.Array:
    """-L_S."""
    return (jnp.mean(jax.nn.softplus(-out["d_real"]["logit"]))
            + jnp.mean(jax.nn.softplus(out["d_fake"]["logit"])))


def class_loss(out: Mapping) -> jax.Array:
    """-L_C."""
    return (_class_ce(out["d_real"]["class_logits"], out["y_real"])
            + _class_ce(out["d_fake"]["class_logits"], out["y_fake"]))


def discriminator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """-(L_S + L_C)."""
    return source_loss(out) + class_loss(out)


def generator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """-(L_C - L_S) up to terms G cannot move: CE(fake) + E log(1 - sigma(D(G)))."""
    fake = out["d_fake"]
    return _class_ce(fake["class_logits"], out["y_fake"]) - jnp.mean(
        jax.nn.softplus(fake["logit"]))


def generator_loss_non_saturating(out: Mapping, hp: Mapping) -> jax.Array:
    """CE(fake) - E log sigma(D(G))."""
    fake = out["d_fake"]
    return _class_ce(fake["class_logits"], out["y_fake"]) + jnp.mean(
        jax.nn.softplus(-fake["logit"]))
