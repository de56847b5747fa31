"""``models.conv_grads.conv_general_dilated``: lax's convolution with second derivatives made of
convolutions XLA runs fast (docs/protocol.md §3.1). Checked against ``lax.conv_general_dilated``
itself: equal values and first derivatives (bitwise), equal second and third derivatives (to
float32 rounding), no window-reversed convolution (the form XLA's CPU backend runs slowly) in a
gradient penalty's program where lax's has one, and whole training steps: a step with only
first derivatives bitwise as before, WGAN-GP's and DRAGAN's penalised steps equal to rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from benchmark import training as train
from benchmark.training.base import Batch
from models import layers
from models.conv_grads import conv_general_dilated
from sweeps.studies import make_run

DIMS = ("NHWC", "HWIO", "NHWC")
# (input, kernel, strides, padding): the study's 4x4 stride-2 SAME conv, DCGAN's 5x5 stride-2
# pad-2 one on an odd side, a stride-1 3x3 one, and a rectangular window with rhs dilation
CASES = [
    ((2, 8, 8, 3), (4, 4, 3, 5), (2, 2), "SAME", None),
    ((2, 7, 7, 2), (5, 5, 2, 4), (2, 2), ((2, 2), (2, 2)), None),
    ((2, 6, 6, 3), (3, 3, 3, 2), (1, 1), ((1, 1), (1, 1)), None),
    ((1, 9, 8, 2), (3, 2, 2, 3), (2, 1), "VALID", (2, 1)),
]


def operands(case, seed=0):
    x_shape, k_shape, *_ = case
    kx, kk, kd = jax.random.split(jax.random.PRNGKey(seed), 3)
    return jax.random.normal(kx, x_shape), jax.random.normal(kk, k_shape)


def convs(case):
    _, _, strides, padding, rhs_dilation = case
    return [lambda x, k, c=c: c(x, k, strides, padding, rhs_dilation=rhs_dilation,
                                 dimension_numbers=DIMS)
            for c in (conv_general_dilated, lax.conv_general_dilated)]


def penalty(conv, dy):
    """A gradient penalty's shape: |d<conv(x, k), dy>/dx|^2 through a nonlinearity, and the same
    for the kernel's gradient, so both transposes are differentiated."""
    def f(x, k):
        gx, gk = jax.grad(lambda x, k: jnp.sum(jnp.tanh(conv(x, k)) * dy), (0, 1))(x, k)
        return jnp.sum(gx ** 2) + jnp.sum(jnp.sin(gk))
    return f


@pytest.mark.parametrize("case", CASES)
def test_values_and_first_derivatives_are_laxs_bitwise(case):
    x, k = operands(case)
    ours, lax_conv = convs(case)
    y, pull = jax.vjp(ours, x, k)
    ref_y, ref_pull = jax.vjp(lax_conv, x, k)
    dy = jax.random.normal(jax.random.PRNGKey(7), y.shape)
    for a, b in zip((y, *pull(dy)), (ref_y, *ref_pull(dy)), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", CASES)
def test_second_and_third_derivatives_equal_laxs(case):
    x, k = operands(case, seed=1)
    ours, lax_conv = convs(case)
    dy = jax.random.normal(jax.random.PRNGKey(8), ours(x, k).shape)
    second = [jax.grad(penalty(c, dy), (0, 1))(x, k) for c in (ours, lax_conv)]
    for a, b in zip(*second, strict=True):
        assert float(jnp.max(jnp.abs(b))) > 1e-3  # nonzero: the test can tell them apart
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * float(jnp.max(jnp.abs(b))))
    # a third: the kernel's gradient of the sum of the penalty's input gradient
    third = [jax.grad(lambda k, c=c: jnp.sum(jnp.cos(jax.grad(penalty(c, dy))(x, k))))(k)
             for c in (ours, lax_conv)]
    np.testing.assert_allclose(third[0], third[1], rtol=1e-4,
                               atol=1e-4 * float(jnp.max(jnp.abs(third[1]))))


def test_a_penalty_compiles_without_window_reversal():
    """The slow form: JAX's derivative of an input-dilated (transposed) convolution with respect
    to its kernel is a window-reversed convolution, which XLA's CPU backend does not hand to its
    fast convolution kernels; ours has none."""
    case = CASES[0]
    x, k = operands(case)
    ours, lax_conv = convs(case)
    dy = jnp.ones_like(ours(x, k))

    def hlo(conv):
        return jax.jit(jax.grad(penalty(conv, dy), 1)).lower(x, k).compile().as_text()

    assert "rhs_reversal" in hlo(lax_conv)
    assert "rhs_reversal" not in hlo(ours)


SHAPE, BATCH = (8, 8, 1), 8


def g_step(model: str, shape=SHAPE):
    """The model's first step (a G step) at ``shape`` and the author defaults, jitted, and the
    state it starts from."""
    structure = train.Structure(model, shape, batch_size=BATCH)
    state = train.init_run(structure, BATCH, 3)
    x = jax.random.uniform(jax.random.PRNGKey(2), (BATCH, *shape))
    hp = {k: jnp.float32(v) for k, v in make_run(model, "triangles", 0).hp.items()}
    return jax.jit(lambda s: train.family_step(structure, s, hp, Batch(x, None), jnp.int32(0),
                                               g_step=True)), state


def first_step(model: str, monkeypatch, plain: bool):
    """The model's first step, its D's convolutions ours or lax's."""
    with monkeypatch.context() as m:
        if plain:
            m.setattr(layers, "conv_general_dilated", lax.conv_general_dilated)
        step, state = g_step(model)
        return step(state)


def test_a_step_without_a_penalty_is_unchanged_bitwise(monkeypatch):
    ours, ref = (first_step("ns_gan", monkeypatch, plain) for plain in (False, True))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model", ["wgan_gp", "dragan"])
def test_a_penalised_step_equals_the_plain_one(model, monkeypatch):
    """Adam's moments hold the gradients (linear in them), so they are compared to rounding; a
    first Adam update is lr g / (|g| + eps), so a parameter whose gradient is near zero may
    move by a different fraction of lr (G's deconv bias, which batch norm cancels, has a
    gradient of rounding noise): parameters whose gradient is well above its rounding, to a
    tenth of lr."""
    (new, metrics), (ref, ref_metrics) = (first_step(model, monkeypatch, plain)
                                          for plain in (False, True))
    moments = {}  # Adam's first and second moments, each to rounding at its own scale
    for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(new.opt_state)[0],
                            jax.tree.leaves(ref.opt_state), strict=True):
        moments.setdefault(next(str(k.name) for k in path if hasattr(k, "name")), []).append((a, b))
    assert sorted(moments) == ["count", "mu", "nu"]
    for pairs in moments.values():
        scale = max(float(np.max(np.abs(b))) for _, b in pairs)
        for a, b in pairs:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)
    lr = make_run(model, "triangles", 0).hp["lr"]
    mu_scale = max(float(np.max(np.abs(b))) for _, b in moments["mu"])
    params = list(zip(jax.tree.leaves(new.params), jax.tree.leaves(ref.params), strict=True))
    assert [a.shape for a, _ in params] == [a.shape for a, _ in moments["mu"]]
    for (a, b), (_, mu) in zip(params, moments["mu"], strict=True):
        clear = np.abs(mu) > 1e-3 * mu_scale  # gradients well above their rounding
        np.testing.assert_allclose(a[clear], b[clear], rtol=0, atol=lr / 10)
    for key in ref_metrics:
        np.testing.assert_allclose(metrics[key], ref_metrics[key], rtol=1e-5)


@pytest.mark.parametrize("model", ["wgan_gp", "dragan"])
def test_a_penalised_step_compiles_without_window_reversal(model, monkeypatch):
    """The whole step, as the engine compiles it: every D convolution a penalty reaches takes
    the fast second derivative (with lax's own, the same step holds the slow form). At 16x16,
    where D's maps (8x8, 4x4) are no smaller than its 4x4 kernels: at 8x8 the second layer's
    2x2 output makes even JAX's first-order kernel gradient window-reversed."""

    def hlo() -> str:
        step, state = g_step(model, (16, 16, 1))
        return step.lower(state).compile().as_text()

    assert "rhs_reversal" not in hlo()
    with monkeypatch.context() as m:
        m.setattr(layers, "conv_general_dilated", lax.conv_general_dilated)
        assert "rhs_reversal" in hlo()
