"""LAPGAN (docs/protocol.md §13.3): the pyramid against numpy and its exact inverse, sampling
as the chain of the levels, and joint training as the levels' independent losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.architectures import lapgan

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("shape, sides", [((28, 28, 1), [7, 14, 28]),
                                          ((32, 32, 3), [8, 16, 32]),
                                          ((64, 64, 3), [16, 32, 64])])
def test_pyramid_sides(shape, sides):
    assert lapgan.pyramid_sides(shape) == sides


@pytest.mark.parametrize("shape, levels", [((30, 30, 1), 3), ((28, 28, 1), 4), ((28, 32, 1), 3)])
def test_a_shape_the_pyramid_does_not_divide_is_one_line(shape, levels):
    with pytest.raises(ValueError, match="LAPGAN: a .*-level pyramid needs") as info:
        lapgan.pyramid_sides(shape, levels)
    assert "\n" not in str(info.value)


def test_pyramid_against_numpy_and_exact_reconstruction():
    x = jax.random.uniform(KEY, (2, 28, 28, 3))
    bands = lapgan.laplacian_pyramid(x)
    assert [b.shape[1] for b in bands] == [7, 14, 28]
    xn = np.asarray(x, np.float64)
    i14 = xn.reshape(2, 14, 2, 14, 2, 3).mean(axis=(2, 4))
    i7 = i14.reshape(2, 7, 2, 7, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(bands[0]), i7, atol=1e-6)
    # A band-pass residual has (about) no low frequencies left: its 2x2 means are those of
    # the level minus the upsampled coarser image's.
    np.testing.assert_allclose(np.asarray(bands[1]) + np.asarray(lapgan.upsample(bands[0])),
                               i14, atol=1e-6)
    np.testing.assert_allclose(np.asarray(lapgan.reconstruct(bands)), xn, atol=1e-6)


def test_upsample_keeps_constants_and_doubles_the_size():
    x = jnp.full((1, 7, 7, 1), 0.3)
    up = lapgan.upsample(x)
    assert up.shape == (1, 14, 14, 1)
    np.testing.assert_allclose(np.asarray(up), 0.3, atol=1e-7)


def _nets(shape=(28, 28, 1)):
    G = lapgan.LapganGenerator(shape, width=8)
    D = lapgan.LapganDiscriminator(shape, width=8)
    z = jax.random.normal(KEY, (4, 12))
    x = jax.random.uniform(jax.random.PRNGKey(1), (4, *shape))
    g_vars = G.init(KEY, z, train=True)
    real = lapgan.real_inputs(x)
    d_vars = D.init(KEY, real, train=True)
    return G, D, z, real, g_vars, d_vars


def test_sampling_chains_the_levels():
    G, D, z, real, g_vars, d_vars = _nets()
    sample = G.apply(g_vars, z, train=False)
    assert sample.shape == (4, 28, 28, 1)
    assert float(sample.min()) >= 0.0 and float(sample.max()) <= 1.0
    chain = G.apply(g_vars, z, method=G.chain)
    # The chain is the pyramid's reconstruction from the bands each level generates when
    # conditioned on the upsampled coarser *generated* image.
    conds = tuple(lapgan.upsample(img) for img in chain[:-1])
    bands = G.apply(g_vars, z, conds, method=G.bands)
    np.testing.assert_allclose(np.asarray(lapgan.reconstruct(list(bands))),
                               np.asarray(chain[-1]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(sample), np.clip(np.asarray(chain[-1]), 0, 1),
                               atol=1e-6)
    assert D.apply(d_vars, real, train=True).shape == (3 * 4,)


def test_joint_loss_gives_each_level_its_own_gradient():
    """One non-saturating D loss on the concatenated logits = the levels' own losses / L:
    each level's parameters get 1/L of its own loss's gradient and none of the others'."""
    G, D, z, real, g_vars, d_vars = _nets()
    fake = (G.apply(g_vars, z, real[1], method=G.bands), real[1])

    def joint(params):
        d_real = D.apply({"params": params}, real, train=True)
        d_fake = D.apply({"params": params}, fake, train=True)
        return jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_fake))

    def level(params, k):
        d_real = D.apply({"params": params}, real, train=True)[4 * k: 4 * (k + 1)]
        d_fake = D.apply({"params": params}, fake, train=True)[4 * k: 4 * (k + 1)]
        return jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_fake))

    params = d_vars["params"]
    g_joint = jax.grad(joint)(params)
    names = {0: "coarse", 1: "fine_0", 2: "fine_1"}
    for k in range(3):
        g_k = jax.grad(level)(params, k)
        for j, name in names.items():
            leaves = [np.asarray(v) for v in jax.tree.leaves(g_k[name])]
            if j == k:
                for a, b in zip(jax.tree.leaves(g_joint[name]), leaves, strict=True):
                    np.testing.assert_allclose(np.asarray(a) * 3, b, rtol=1e-4, atol=1e-7)
                assert any(np.abs(v).max() > 0 for v in leaves)
            else:
                assert all(np.abs(v).max() == 0 for v in leaves)
