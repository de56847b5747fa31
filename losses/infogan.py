"""InfoGAN objective (Chen et al. 2016, §5; docs/protocol.md §11.3).

The GAN part is the non-saturating loss (§2.1). The mutual-information lower bound
L_I = H(c) - E[-log Q(c | G(z, c))] is estimated for the categorical code (H = log 10) and for
the continuous codes (Q a Gaussian with the predicted mean and standard deviation 1; H of
U(-1, 1) = log 2 per code). As the authors' ``infogan_trainer.py`` (``InfoGANTrainer.init_opt``)
does, lambda * L_I is subtracted from both D's and G's loss: Q (on D's trunk) is trained in
D's step and G in its own. lambda is 1 for both codes (the paper's discrete lambda, and the
code's ``info_reg_coeff=1.0`` for both in ``run_mnist_exp.py``).

``out``: ``d_real``/``d_fake`` = D's outputs {"logit", "category_logits",
"continuous_mean"}; ``codes`` = {"category" [B], "continuous" [B, 2]} that made the fakes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax

from losses.base import HParam, LogUniform

CATEGORY_ENTROPY = math.log(10.0)
UNIFORM_ENTROPY = math.log(2.0)  # of U(-1, 1), per continuous code
GAUSSIAN_CONST = 0.5 * math.log(2.0 * math.pi)

LAMBDA_CATEGORY = HParam(
    "lambda_category", 1.0, wide=LogUniform(-1, 1), narrow=LogUniform(-0.5, 0.5), low=0.0,
    help="weight of the categorical code's mutual-information bound",
)
LAMBDA_CONTINUOUS = HParam(
    "lambda_continuous", 1.0, wide=LogUniform(-2, 1), narrow=LogUniform(-1, 0.5), low=0.0,
    help="weight of the continuous codes' mutual-information bound",
)
HPARAMS = (LAMBDA_CATEGORY, LAMBDA_CONTINUOUS)
# The authors' Adam: D 2e-4, G 1e-3, beta1 0.5 (run_mnist_exp.py); the study has one lr.
DEFAULTS = {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True,
            "lambda_category": 1.0, "lambda_continuous": 1.0}


def category_information(out: Mapping) -> jax.Array:
    """L_I of the categorical code: log 10 - CE(Q's logits, c)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(
        out["d_fake"]["category_logits"], out["codes"]["category"])
    return CATEGORY_ENTROPY - jnp.mean(ce)


def continuous_information(out: Mapping) -> jax.Array:
    """L_I of the continuous codes: sum over codes of log 2 - E[Gaussian NLL(c; mean, 1)]."""
    c, mean = out["codes"]["continuous"], out["d_fake"]["continuous_mean"]
    nll = jnp.sum(0.5 * (c - mean) ** 2 + GAUSSIAN_CONST, axis=-1)
    return c.shape[-1] * UNIFORM_ENTROPY - jnp.mean(nll)


def information(out: Mapping, hp: Mapping) -> jax.Array:
    return (hp["lambda_category"] * category_information(out)
            + hp["lambda_continuous"] * continuous_information(out))


def discriminator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    gan = (jnp.mean(jax.nn.softplus(-out["d_real"]["logit"]))
           + jnp.mean(jax.nn.softplus(out["d_fake"]["logit"])))
    return gan - information(out, hp)


def generator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-out["d_fake"]["logit"])) - information(out, hp)
