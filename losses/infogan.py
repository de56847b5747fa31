"""InfoGAN objective (Chen et al. 2016, §5; docs/protocol.md §12.3).

The GAN part is the non-saturating loss (§2.1). The mutual-information lower bound
L_I = H(c) - E[-log Q(c | G(z, c))] is estimated for the categorical code (H = log 10) and for
the continuous codes (Q a Gaussian with the predicted mean and standard deviation 1; H of
U(-1, 1) = log 2 per code). As the authors' ``infogan_trainer.py`` (``InfoGANTrainer.init_opt``)
does, lambda * L_I is subtracted from both D's and G's loss: Q (on D's trunk) is trained in
D's step and G in its own. lambda is 1 for both codes (the paper's discrete lambda, and the
code's ``info_reg_coeff=1.0`` for both in ``run_mnist_exp.py``).

:class:`losses.base.Outputs` as the ``conditional`` family fills it: ``y_fake`` the drawn
categories; ``aux_fake`` D's heads on the fakes ("category_logits", "continuous_mean") and
the latents that made them ("z", whose last two coordinates are the continuous codes).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from losses.base import Objective, Outputs

CATEGORY_ENTROPY = math.log(10.0)
UNIFORM_ENTROPY = math.log(2.0)  # of U(-1, 1), per continuous code
GAUSSIAN_CONST = 0.5 * math.log(2.0 * math.pi)
CONTINUOUS = 2  # the continuous codes: z's last two coordinates (architecture infogan_q)



def category_information(out: Outputs) -> jax.Array:
    """L_I of the categorical code: log 10 - CE(Q's logits, c)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(out.aux_fake["category_logits"],
                                                         out.y_fake)
    return CATEGORY_ENTROPY - jnp.mean(ce)


def continuous_information(out: Outputs) -> jax.Array:
    """L_I of the continuous codes: sum over codes of log 2 - E[Gaussian NLL(c; mean, 1)]."""
    c, mean = out.aux_fake["z"][:, -CONTINUOUS:], out.aux_fake["continuous_mean"]
    nll = jnp.sum(0.5 * (c - mean) ** 2 + GAUSSIAN_CONST, axis=-1)
    return c.shape[-1] * UNIFORM_ENTROPY - jnp.mean(nll)


def information(out: Outputs, hp) -> jax.Array:
    return (hp["lambda_category"] * category_information(out)
            + hp["lambda_continuous"] * continuous_information(out))


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    gan = jnp.mean(jax.nn.softplus(-out.d_real)) + jnp.mean(jax.nn.softplus(out.d_fake))
    return gan - information(out, hp)


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-out.d_fake)) - information(out, hp)


def log_metrics(extra, out: Outputs, hp) -> dict[str, jax.Array]:
    return {"mi_category": category_information(out)}


OBJECTIVE = Objective(discriminator_loss, generator_loss, log_metrics=log_metrics)
