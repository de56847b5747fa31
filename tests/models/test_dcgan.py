"""DCGAN's networks (docs/protocol.md §13.1): shapes, hand-counted sizes at the three
resolutions, the 5x5 fractionally strided conv against the transpose of a strided conv, the
output range and the layers the paper leaves without batch norm."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.traverse_util import flatten_dict

from models.architectures.dcgan import DcganDiscriminator, DcganGenerator, Deconv5x5, pyramid_plan

KEY = jax.random.PRNGKey(0)
Z = 100  # the paper's z


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def init_shapes(module, x):
    return jax.eval_shape(lambda: module.init(KEY, x, train=False))


def hand_g(side: int, c: int, width: int = 128) -> int:
    """dense z -> C s^2 (no bias) + BN over C s^2 units; (n - 1) x [5x5 deconv halving the
    channels + BN]; 5x5 deconv to c channels. C = width 2^(n-1)."""
    base, n = {28: (7, 2), 32: (4, 3), 64: (4, 4)}[side]
    ch = width * 2 ** (n - 1)
    total = Z * ch * base * base + 2 * ch * base * base
    for _ in range(n - 1):
        total += 25 * ch * (ch // 2) + 2 * (ch // 2)
        ch //= 2
    return total + 25 * ch * c


def hand_d(side: int, c: int, width: int = 128) -> int:
    """5x5 conv c -> width (no BN); (n - 1) x [5x5 conv doubling + BN]; dense to 1."""
    base, n = {28: (7, 2), 32: (4, 3), 64: (4, 4)}[side]
    ch = width
    total = 25 * c * ch
    for _ in range(n - 1):
        total += 25 * ch * 2 * ch + 2 * 2 * ch
        ch *= 2
    return total + base * base * ch


def test_hand_counts_by_formula_match_the_paper_sized_64x64_networks():
    # The paper's LSUN G written out: 100 -> 4x4x1024 (+BN), 1024->512, 512->256, 256->128
    # (each +BN), 128 -> 3.
    g = (100 * 16384 + 2 * 16384 + 25 * 1024 * 512 + 1024 + 25 * 512 * 256 + 512
         + 25 * 256 * 128 + 256 + 25 * 128 * 3)
    d = (25 * 3 * 128 + 25 * 128 * 256 + 512 + 25 * 256 * 512 + 1024 + 25 * 512 * 1024 + 2048
         + 4 * 4 * 1024)
    assert (hand_g(64, 3), hand_d(64, 3)) == (g, d) == (18_885_760, 17_232_768)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_shapes_and_parameter_counts(shape):
    G, D = DcganGenerator(shape), DcganDiscriminator(shape)
    g_vars = init_shapes(G, jnp.zeros((2, Z)))
    d_vars = init_shapes(D, jnp.zeros((2, *shape)))
    assert count(g_vars["params"]) == hand_g(shape[0], shape[2])
    assert count(d_vars["params"]) == hand_d(shape[0], shape[2])
    out = jax.eval_shape(lambda v: G.apply(v, jnp.zeros((2, Z)), train=False), g_vars)
    assert out.shape == (2, *shape)
    logits = jax.eval_shape(lambda v: D.apply(v, jnp.zeros((2, *shape)), train=False), d_vars)
    assert logits.shape == (2,)


def test_no_batch_norm_on_g_output_or_d_input():
    shape = (32, 32, 3)
    g = flatten_dict(init_shapes(DcganGenerator(shape, width=8), jnp.zeros((2, Z)))["params"])
    d = flatten_dict(init_shapes(DcganDiscriminator(shape, width=8),
                                 jnp.zeros((2, *shape)))["params"])
    # G: BN after the projection and the first n - 1 = 2 deconvs, none after the third.
    assert sorted({k[0] for k in g if k[0].startswith("BatchNorm")}) == [
        "BatchNorm_0", "BatchNorm_1", "BatchNorm_2"]
    assert "Deconv5x5_2" in {k[0] for k in g}
    # D: three convs, BN on the last two only.
    assert sorted({k[0] for k in d if k[0].startswith("BatchNorm")}) == [
        "BatchNorm_0", "BatchNorm_1"]
    assert {k[0] for k in d if k[0].startswith("Conv")} == {"Conv_0", "Conv_1", "Conv_2"}
    assert not any(k[-1] == "bias" and not k[0].startswith("BatchNorm") for k in {**g, **d})


def test_deconv_is_the_transpose_of_the_strided_conv():
    x = jax.random.normal(KEY, (2, 5, 6, 3))
    layer = Deconv5x5(4)
    params = layer.init(KEY, x)
    y = layer.apply(params, x)
    kernel = params["params"]["kernel"]  # (5, 5, in 3, out 4)

    def conv(v):  # [2, 10, 12, 4] -> [2, 5, 6, 3], 5x5 stride 2 pad 2 (dcgan_code's conv)
        return jax.lax.conv_general_dilated(v, jnp.transpose(kernel, (0, 1, 3, 2)), (2, 2),
                                            ((2, 2), (2, 2)),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    _, vjp = jax.vjp(conv, jnp.zeros((2, 10, 12, 4)))
    (expected,) = vjp(x)
    assert y.shape == (2, 10, 12, 4)
    np.testing.assert_allclose(np.asarray(y), np.asarray(expected), rtol=1e-5, atol=1e-5)


def test_outputs_in_unit_interval_and_logits_agree():
    shape = (28, 28, 1)
    G = DcganGenerator(shape, width=8)
    z = jax.random.normal(KEY, (4, Z))
    variables = G.init(KEY, z, train=False)
    img = G.apply(variables, z, train=False)
    logit = G.apply(variables, z, train=False, logits=True)
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    np.testing.assert_allclose(np.asarray(jax.nn.sigmoid(logit)), np.asarray(img), atol=1e-6)
    # (tanh(a) + 1) / 2 == sigmoid(2a): the output is the authors' inverse_transform of tanh.
    np.testing.assert_allclose(np.asarray((jnp.tanh(logit / 2) + 1) / 2), np.asarray(img),
                               atol=1e-6)


def test_d_trains_with_batch_statistics():
    shape = (28, 28, 1)
    D = DcganDiscriminator(shape, width=8)
    x = jax.random.uniform(KEY, (4, *shape))
    variables = D.init(KEY, x, train=False)
    out, updates = D.apply(variables, x, train=True, mutable=["batch_stats"])
    assert out.shape == (4,) and np.isfinite(np.asarray(out)).all()
    assert set(updates["batch_stats"]) == {"BatchNorm_0"}


@pytest.mark.parametrize("side", [30, 48, 24 * 3])
def test_sides_the_plan_does_not_divide_are_one_line_errors(side):
    with pytest.raises(ValueError, match="DCGAN needs") as info:
        pyramid_plan((side, side, 3))
    assert "\n" not in str(info.value)
