"""ACGAN objective (Odena, Olah & Shlens 2017, §3; docs/protocol.md §12.2).

L_S = E log P(S=real | x_real) + E log P(S=fake | x_fake),
L_C = E log P(C=c | x_real) + E log P(C=c | x_fake).
D maximises L_S + L_C; G maximises L_C - L_S, as the paper writes it (the G term of L_S is
then the minimax one, E log(1 - sigma(D(G)))); the option ``generator=non_saturating`` is the
usual practice, -E log sigma(D(G)) + CE.

D's main output is the real/fake logit, its head ``class_logits`` the K class logits
(:class:`losses.base.Outputs`: ``aux_real``/``aux_fake``); ``y`` the real labels, ``y_fake``
the classes G was asked for (the real batch's where the family does not draw them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from losses.base import Objective, Outputs


def _class_ce(logits: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def fake_labels(out: Outputs) -> jax.Array:
    return out.y if out.y_fake is None else out.y_fake


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    """-(L_S + L_C)."""
    source = jnp.mean(jax.nn.softplus(-out.d_real)) + jnp.mean(jax.nn.softplus(out.d_fake))
    classes = (_class_ce(out.aux_real["class_logits"], out.y)
               + _class_ce(out.aux_fake["class_logits"], fake_labels(out)))
    return source + classes


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    """-(L_C - L_S) up to terms G cannot move: CE(fake) + E log(1 - sigma(D(G)))."""
    return (_class_ce(out.aux_fake["class_logits"], fake_labels(out))
            - jnp.mean(jax.nn.softplus(out.d_fake)))


def generator_loss_non_saturating(out: Outputs, hp, extra) -> jax.Array:
    """CE(fake) - E log sigma(D(G))."""
    return (_class_ce(out.aux_fake["class_logits"], fake_labels(out))
            + jnp.mean(jax.nn.softplus(-out.d_fake)))


OBJECTIVE = Objective(discriminator_loss, generator_loss)
NON_SATURATING = Objective(discriminator_loss, generator_loss_non_saturating)
