"""The hinge loss (compare_gan v3 loss_lib.hinge) against hand-computed values and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from losses import hinge
from losses.base import Outputs
from sweeps.spaces import sample_configs

# Logits on both sides of the margins +-1 (and exactly on them).
D_REAL = jnp.array([-1.0, 0.0, 0.5, 1.0, 2.0])  # relu(1 - x) = 2, 1, 0.5, 0, 0 -> mean 0.7
D_FAKE = jnp.array([-2.0, -1.0, -0.5, 0.0, 3.0])  # relu(1 + x) = 0, 0, 0.5, 1, 4 -> mean 1.1


def test_known_values():
    assert float(hinge.discriminator_loss(Outputs(D_REAL, D_FAKE), {}, {})) == \
        pytest.approx(1.8)
    # -mean(-0.5/5)
    assert float(hinge.generator_loss(Outputs(None, D_FAKE), {}, {})) == pytest.approx(0.1)


def test_discriminator_loss_is_zero_beyond_the_margins():
    out = Outputs(jnp.full(4, 1.5), jnp.full(4, -3.0))
    assert float(hinge.discriminator_loss(out, {}, {})) == 0.0
    # ... and equals 2 at D = 0 on both sides (1 + 1).
    assert float(hinge.discriminator_loss(Outputs(jnp.zeros(3), jnp.zeros(3)), {}, {})) == 2.0


def test_gradient_signs():
    """D raises D(x) and lowers D(G(z)) only where a margin is violated; G always raises D(G(z))."""
    real = jnp.array([-0.5, 0.5, 1.5, 3.0])
    fake = jnp.array([-3.0, -1.5, -0.5, 0.5])
    grads = jax.grad(hinge.discriminator_loss)(Outputs(real, fake), {}, {})
    g_real, g_fake = grads.d_real, grads.d_fake
    n = len(real)
    # descent direction -grad: up for real logits below 1, down for fake logits above -1
    np.testing.assert_allclose(g_real, [-1 / n, -1 / n, 0.0, 0.0])
    np.testing.assert_allclose(g_fake, [0.0, 0.0, 1 / n, 1 / n])
    g_gen = jax.grad(hinge.generator_loss)(Outputs(None, fake), {}, {}).d_fake
    np.testing.assert_allclose(g_gen, np.full(n, -1 / n))  # even past the margin, unlike D


def test_registered_with_its_defaults_and_in_the_search_spaces():
    loss = models.get("hinge")
    assert loss.objective is hinge.OBJECTIVE and loss.family == "gan" and loss.arch == "infogan"
    assert dict(loss.defaults) == {"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True}
    configs = sample_configs("hinge", "wide", 3, seed=0)
    assert len(configs) == 3 and all("lr" in c for c in configs[1:])


def test_paper_studies_keep_the_eight_models_unless_hinge_is_named():
    from sweeps.studies import build_study

    assert "hinge" not in models.PAPER_MODELS and set(models.PAPER_MODELS) < set(models.names())
    assert {r.model for r in build_study("default", profile="smoke").runs} == set(
        models.PAPER_MODELS)
    named = build_study("default", profile="smoke", models=["hinge", "ns_gan"])
    assert {r.model for r in named.runs} == {"hinge", "ns_gan"}
