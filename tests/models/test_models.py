"""The networks against docs/protocol.md §3 (architecture): shapes, hand-counted sizes, init,
batch norm.

Shapes and parameter counts come from ``jax.eval_shape`` (nothing is compiled); the value
checks run the real networks once at 28x28x1.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.traverse_util import flatten_dict
from scipy import stats

import models
from models.architectures import Encoder, make_discriminator, make_generator
from models.layers import Deconv

SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3)]
KEY = jax.random.PRNGKey(0)


# --- hand counts from the layer sizes (docs/protocol.md §3) ---------------------------------


def conv_count(c_in: int, c_out: int) -> int:
    return 4 * 4 * c_in * c_out + c_out  # 4x4 kernel + bias


def dense_count(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def bn_count(n: int, on: bool = True) -> int:
    return 2 * n if on else 0  # scale and offset


def hand_d(shape, bn: bool) -> int:
    """conv64 -> conv128 -> [BN] -> fc1024 -> [BN] -> fc1."""
    h, w, c = shape
    flat = 128 * (h // 4) * (w // 4)
    return (conv_count(c, 64) + conv_count(64, 128) + bn_count(128, bn)
            + dense_count(flat, 1024) + bn_count(1024, bn) + dense_count(1024, 1))


def hand_g(shape) -> int:
    """fc1024 -> BN -> fc(128 h/4 w/4) -> BN -> deconv64 -> BN -> deconv(c)."""
    h, w, c = shape
    flat = 128 * (h // 4) * (w // 4)
    return (dense_count(models.Z_DIM, 1024) + bn_count(1024) + dense_count(1024, flat)
            + bn_count(flat) + conv_count(128, 64) + bn_count(64) + conv_count(64, c))


def hand_began_d(shape, bn: bool) -> int:
    """conv64, conv128, fc64, [BN]; then fc(128 h/4 w/4), [BN], deconv64, [BN], deconv(c)."""
    h, w, c = shape
    flat = 128 * (h // 4) * (w // 4)
    return (conv_count(c, 64) + conv_count(64, 128) + dense_count(flat, 64) + bn_count(64, bn)
            + dense_count(64, flat) + bn_count(flat, bn) + conv_count(128, 64)
            + bn_count(64, bn) + conv_count(64, c))


def hand_encoder(shape, bn: bool) -> int:
    """The D trunk (with or without batch norm), then fc(2 z_dim)."""
    return hand_d(shape, bn) - dense_count(1024, 1) + dense_count(1024, 2 * models.Z_DIM)


def abstract_init(module: nn.Module, x_shape):
    """(output shapes, variable shapes) of ``module.init_with_output`` without running it."""
    x = jax.ShapeDtypeStruct(x_shape, jnp.float32)
    return jax.eval_shape(lambda x: module.init_with_output(KEY, x, train=True), x)


def count(tree) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


# --- shapes and sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes(shape):
    b = 5
    images, _ = abstract_init(make_generator(shape), (b, models.Z_DIM))
    assert images.shape == (b, *shape)
    for bn in (True, False):
        logits, _ = abstract_init(make_discriminator("infogan", shape, bn), (b, *shape))
        assert logits.shape == (b,)
        errors, _ = abstract_init(make_discriminator("began", shape, bn), (b, *shape))
        assert errors.shape == (b,)
    for bn in (True, False):
        (mu, sigma), _ = abstract_init(Encoder(models.Z_DIM, bn), (b, *shape))
        assert mu.shape == sigma.shape == (b, models.Z_DIM)


def test_plain_discriminator_has_8_524_993_parameters_at_32x32x3():
    _, variables = abstract_init(make_discriminator("infogan", (32, 32, 3), False),
                                 (2, 32, 32, 3))
    assert count(variables["params"]) == hand_d((32, 32, 3), False) == 8_524_993
    assert "batch_stats" not in variables


@pytest.mark.parametrize("shape", SHAPES)
def test_parameter_counts_match_hand_counts(shape):
    for bn in (True, False):
        _, v = abstract_init(make_discriminator("infogan", shape, bn), (2, *shape))
        assert count(v["params"]) == hand_d(shape, bn)
        _, v = abstract_init(make_discriminator("began", shape, bn), (2, *shape))
        assert count(v["params"]) == hand_began_d(shape, bn)
    for activation in ("lrelu", "relu"):  # the VAE decoder is the same network with ReLU
        _, v = abstract_init(make_generator(shape, activation), (2, models.Z_DIM))
        assert count(v["params"]) == hand_g(shape)
    for bn in (True, False):  # v1: the encoder's batch norm follows disc_bn
        _, v = abstract_init(Encoder(models.Z_DIM, bn), (2, *shape))
        assert count(v["params"]) == hand_encoder(shape, bn)
        assert ("batch_stats" in v) is bn


def test_began_discriminator_is_about_1_3m_parameters_at_32x32x3():
    """compare_gan v1 BEGAN.py: "less parameters (1.3M vs 8.5M)"."""
    _, v = abstract_init(make_discriminator("began", (32, 32, 3), False), (2, 32, 32, 3))
    n = count(v["params"])
    assert n == hand_began_d((32, 32, 3), False) == 1_325_379
    assert 1.25e6 < n < 1.35e6


def test_batch_norm_switch_removes_the_batch_norm_variables():
    shape = (28, 28, 1)
    for arch, bn_sizes in (("infogan", (128, 1024)), ("began", (64, 128 * 7 * 7, 64))):
        _, on = abstract_init(make_discriminator(arch, shape, True), (2, *shape))
        _, off = abstract_init(make_discriminator(arch, shape, False), (2, *shape))
        assert "batch_stats" not in off
        assert not [k for k in flatten_dict(off["params"]) if "BatchNorm" in "/".join(k)]
        assert count(on["params"]) - count(off["params"]) == 2 * sum(bn_sizes)
        assert count(on["batch_stats"]) == 2 * sum(bn_sizes)  # moving mean and variance


def test_unknown_architecture_is_an_error():
    with pytest.raises(ValueError, match="architecture"):
        make_discriminator("dcgan", (28, 28, 1), True)


# --- values ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def networks_28():
    """Initialised G and D (with batch norm) at 28x28x1."""
    shape = (28, 28, 1)
    g, d = make_generator(shape), make_discriminator("infogan", shape, True)
    k_g, k_d = jax.random.split(KEY)
    g_vars = jax.jit(lambda k: g.init(k, jnp.zeros((2, models.Z_DIM)), train=True))(k_g)
    d_vars = jax.jit(lambda k: d.init(k, jnp.zeros((2, *shape)), train=True))(k_d)
    return g, g_vars, d, d_vars


def test_generator_output_is_in_unit_interval(networks_28):
    g, g_vars, _, _ = networks_28
    z = jax.random.uniform(jax.random.PRNGKey(1), (16, models.Z_DIM), minval=-1, maxval=1)
    # Also with weights blown up 30x, so the sigmoid saturates.
    big = {"params": jax.tree.map(lambda p: 30.0 * p, g_vars["params"]),
           "batch_stats": g_vars["batch_stats"]}

    @jax.jit
    def images_and_logits(variables):
        """(images, logits) in training mode and in inference mode."""
        train = [g.apply(variables, z, train=True, logits=lg, mutable=["batch_stats"])[0]
                 for lg in (False, True)]
        return train, [g.apply(variables, z, train=False, logits=lg) for lg in (False, True)]

    for variables in (g_vars, big):
        for images, logits in images_and_logits(variables):
            images = np.asarray(images)
            assert images.shape == (16, 28, 28, 1)
            assert images.min() >= 0.0 and images.max() <= 1.0
            np.testing.assert_allclose(images, jax.nn.sigmoid(logits), rtol=1e-6, atol=1e-7)
    assert np.asarray(g.apply(big, z, train=False)).std() > 0.1  # the saturated case is real


@pytest.mark.parametrize(("hw", "c_in", "c_out"), [((7, 7), 5, 3), ((8, 6), 4, 2), ((1, 1), 3, 1)])
def test_deconv_equals_flax_conv_transpose(hw, c_in, c_out):
    k_x, k_k, k_b = jax.random.split(jax.random.PRNGKey(2), 3)
    x = jax.random.normal(k_x, (2, *hw, c_in))
    params = {"kernel": jax.random.normal(k_k, (4, 4, c_in, c_out)),
              "bias": jax.random.normal(k_b, (c_out,))}
    ref = nn.ConvTranspose(c_out, (4, 4), strides=(2, 2), padding="SAME")
    ref_shapes = jax.eval_shape(ref.init, KEY, x)["params"]
    assert jax.tree.map(jnp.shape, ref_shapes) == jax.tree.map(jnp.shape, params)
    cot = jax.random.normal(jax.random.PRNGKey(3), (2, 2 * hw[0], 2 * hw[1], c_out))

    @jax.jit
    def outputs_and_grads(params, x):
        """Output, and gradients w.r.t. kernel, bias and input (what training uses)."""
        results = []
        for module in (Deconv(c_out), ref):
            f = lambda p, x, m=module: m.apply({"params": p}, x)
            y = f(params, x)
            grads = jax.grad(lambda p, x, f=f: jnp.sum(cot * f(p, x)), argnums=(0, 1))(params, x)
            results.append((y, grads))
        return results

    (y, grads), (y_ref, grads_ref) = outputs_and_grads(params, x)
    assert y.shape == (2, 2 * hw[0], 2 * hw[1], c_out)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_init_statistics(networks_28):
    """Weights N(0, 0.02) (truncated at 2 std for conv, as TF1's initialiser), biases 0,
    batch norm scale 1 and offset 0, moving mean 0 and variance 1."""
    _, g_vars, _, d_vars = networks_28
    truncated_std = 0.02 * stats.truncnorm(-2, 2).std()  # 0.0176: TF1 semantics of stddev
    leaves = {("G",) + k: v for k, v in flatten_dict(g_vars["params"]).items()}
    leaves |= {("D",) + k: v for k, v in flatten_dict(d_vars["params"]).items()}
    kinds = {"conv": [], "normal": []}
    for path, value in leaves.items():
        value, name = np.asarray(value), "/".join(path)
        if "BatchNorm" in name:
            np.testing.assert_array_equal(value, 1.0 if path[-1] == "scale" else 0.0)
        elif path[-1] == "bias":
            np.testing.assert_array_equal(value, 0.0, err_msg=name)
        elif "Conv_" in name:
            assert np.abs(value).max() <= 2 * 0.02, name
            kinds["conv"].append(value.ravel())
        else:  # dense and deconv kernels
            kinds["normal"].append(value.ravel())
            if value.size > 100_000:
                assert abs(value.std() - 0.02) < 0.01 * 0.02, name
    conv_w, normal_w = np.concatenate(kinds["conv"]), np.concatenate(kinds["normal"])
    assert conv_w.size == 16 * 64 + 16 * 64 * 128
    assert abs(conv_w.std() - truncated_std) < 0.01 * truncated_std
    assert abs(conv_w.mean()) < 3e-4  # 6 standard errors
    assert abs(normal_w.std() - 0.02) < 0.005 * 0.02
    assert abs(normal_w.mean()) < 1e-4
    assert np.abs(normal_w).max() > 3 * 0.02  # the plain normal is not truncated
    for s in (g_vars["batch_stats"], d_vars["batch_stats"]):
        for k, v in flatten_dict(s).items():
            np.testing.assert_array_equal(v, 1.0 if k[-1] == "var" else 0.0)


def test_batch_norm_decay_and_epsilon(networks_28):
    """One training-mode pass: moving averages move by (1 - 0.999); normalisation uses eps 1e-3
    in training mode (batch statistics) and in inference mode (moving averages)."""
    _, _, d, d_vars = networks_28
    x = jax.random.uniform(jax.random.PRNGKey(4), (8, 28, 28, 1))
    _, state = d.apply(d_vars, x, train=True, capture_intermediates=True,
                       mutable=["batch_stats", "intermediates"])
    inter = state["intermediates"]["trunk"]
    pre = np.asarray(inter["Conv_1"]["__call__"][0], np.float64)  # BatchNorm_0's input
    out = np.asarray(inter["BatchNorm_0"]["__call__"][0], np.float64)
    mean, var = pre.mean(axis=(0, 1, 2)), pre.var(axis=(0, 1, 2))
    new = state["batch_stats"]["trunk"]["BatchNorm_0"]
    np.testing.assert_allclose(new["mean"], 0.999 * 0.0 + 0.001 * mean, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(new["var"], 0.999 * 1.0 + 0.001 * var, rtol=1e-6)
    assert var.max() < 1e-2  # small batch variance: eps 1e-3 versus 1e-5 is visible below
    np.testing.assert_allclose(out, (pre - mean) / np.sqrt(var + 1e-3), rtol=2e-3, atol=2e-4)
    assert not np.allclose(out, (pre - mean) / np.sqrt(var + 1e-5), rtol=2e-2, atol=2e-2)
    # Inference mode normalises with the moving averages.
    variables = {"params": d_vars["params"], "batch_stats": state["batch_stats"]}
    _, inf = d.apply(variables, x, train=False, capture_intermediates=True,
                     mutable=["intermediates"])
    inter = inf["intermediates"]["trunk"]
    pre = np.asarray(inter["Conv_1"]["__call__"][0], np.float64)
    out = np.asarray(inter["BatchNorm_0"]["__call__"][0], np.float64)
    m, v = np.asarray(new["mean"], np.float64), np.asarray(new["var"], np.float64)
    np.testing.assert_allclose(out, (pre - m) / np.sqrt(v + 1e-3), rtol=1e-4, atol=1e-6)
