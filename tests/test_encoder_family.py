"""The encoder family (docs/protocol.md §11.5, §11.6): BiGAN's D sees (x, E(x)) as real and
(G(z), z) as fake; every model's step runs and stays finite."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmark.training import encoder


class MeanEncoder(nn.Module):
    """E(x) = the image's mean pixel, in every coordinate."""

    @nn.compact
    def __call__(self, x, train):
        return jnp.broadcast_to(jnp.mean(x, axis=(1, 2, 3))[:, None], (x.shape[0], 2))


class FillGenerator(nn.Module):
    """G(z) = an image filled with 10 + z[0]."""

    @nn.compact
    def __call__(self, z, train):
        return jnp.broadcast_to(10.0 + z[:, 0, None, None, None], (z.shape[0], 2, 2, 1))


class PairFingerprint(nn.Module):
    """D(x, z) = 1000 mean(x) + z[0]: which image and which code it saw."""

    @nn.compact
    def __call__(self, x, z, train):
        return 1000.0 * jnp.mean(x, axis=(1, 2, 3)) + z[:, 0]


def test_bigan_discriminator_sees_real_pairs_and_fake_pairs():
    setup = encoder.Setup("bigan", (2, 2, 1), z_dim=2, batch_size=3)
    x = jnp.arange(12.0).reshape(3, 2, 2, 1) / 12.0
    z = jnp.array([[0.1, 0.0], [0.2, 0.0], [0.3, 0.0]])
    empty = {"generator": {}, "encoder": {}, "discriminator": {}}
    out, *_ = encoder.pairs(setup, FillGenerator(), PairFingerprint(), MeanEncoder(), {}, {}, {},
                            empty, x, z, None, {})
    mean_x = jnp.mean(x, axis=(1, 2, 3))
    np.testing.assert_allclose(out["d_real"], 1000.0 * mean_x + mean_x, rtol=1e-6)  # (x, E(x))
    np.testing.assert_allclose(out["d_fake"], 1000.0 * (10.0 + z[:, 0]) + z[:, 0], rtol=1e-6)


@pytest.mark.slow  # three models compiled: 30-120 s on the shared 2 cores
@pytest.mark.parametrize("method", encoder.METHODS)
def test_each_encoder_model_steps_finitely(method):
    setup = encoder.Setup(method, (28, 28, 1), batch_size=8)
    params, stats = encoder.init(setup, jax.random.key(0))
    opt = encoder.init_optimizer(params)
    hp = {"lr": 1e-3, "beta1": 0.5, "gamma": 0.01}
    step = jax.jit(functools.partial(encoder.step, setup, tx=optax.adam(1e-3, b1=0.5)))
    x = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1))
    before = params
    for t in range(2):
        params, stats, opt, logs = step(params, stats, opt, hp, {"x": x}, jax.random.key(t))
    assert all(np.isfinite(float(v)) for v in logs.values())
    for name in ("generator", "discriminator", "encoder"):  # every network was updated
        changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), before[name], params[name])
        assert any(jax.tree.leaves(changed)), name
