"""Spectral normalisation (docs/protocol.md §13.2) against numpy's SVD and a numpy power
iteration; its ``u`` vectors persist across passes, survive a checkpoint bit-exactly, and the
raw kernels keep the architecture's initialisation."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.architectures.infogan import Discriminator
from models.architectures.sngan import SnganDiscriminator
from models.spectral_norm import require_kernels, spectral_norm

KEY = jax.random.PRNGKey(0)


class OneDense(nn.Module):
    features: int = 7

    @nn.compact
    def __call__(self, x, train):
        return nn.Dense(self.features)(x)


def sn_state(variables):
    return variables["batch_stats"]["sn"]


def test_sigma_converges_to_the_largest_singular_value():
    D = spectral_norm(OneDense())
    x = jax.random.normal(KEY, (3, 5))
    variables = D.init(KEY, x, train=True)
    W = np.asarray(variables["params"]["inner"]["Dense_0"]["kernel"], np.float64)
    b = np.asarray(variables["params"]["inner"]["Dense_0"]["bias"], np.float64)
    top = np.linalg.svd(W, compute_uv=False)[0]
    step = jax.jit(lambda v: D.apply(v, x, train=True, mutable=["batch_stats"]))
    for _ in range(200):  # one power iteration per training-mode pass
        out, updates = step(variables)
        variables = {"params": variables["params"], "batch_stats": updates["batch_stats"]}
    sigma = float(sn_state(variables)["inner/Dense_0/kernel/sigma"])
    assert sigma == pytest.approx(top, rel=1e-4)
    # The layer used W / sigma: its largest singular value is 1 and the output matches numpy.
    assert np.linalg.svd(W / sigma, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(np.asarray(out), np.asarray(x) @ (W / top) + b, rtol=1e-3,
                               atol=1e-4)


def test_u_persists_and_moves_one_power_iteration_per_training_pass():
    D = spectral_norm(OneDense())
    x = jax.random.normal(KEY, (3, 5))
    variables = D.init(KEY, x, train=True)
    W = np.asarray(variables["params"]["inner"]["Dense_0"]["kernel"], np.float64)
    u0 = np.asarray(sn_state(variables)["inner/Dense_0/kernel/u"], np.float64)
    _, updates = D.apply(variables, x, train=True, mutable=["batch_stats"])
    u1 = np.asarray(updates["batch_stats"]["sn"]["inner/Dense_0/kernel/u"], np.float64)
    v = u0 @ W.T
    v /= np.linalg.norm(v)
    expected = v @ W
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(u1, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(u1, u0)
    # Inference-mode passes read u and change nothing.
    _, frozen = D.apply(variables, x, train=False, mutable=["batch_stats"])
    np.testing.assert_array_equal(
        np.asarray(frozen["batch_stats"]["sn"]["inner/Dense_0/kernel/u"]), u0.astype(np.float32))


def test_every_kernel_of_a_conv_discriminator_is_normalised_and_bn_still_updates():
    D = spectral_norm(Discriminator(use_batch_norm=True))
    x = jax.random.uniform(KEY, (4, 28, 28, 1))
    variables = D.init(KEY, x, train=True)
    names = {k for k in sn_state(variables) if k.endswith("/u")}
    assert names == {"inner/trunk/Conv_0/kernel/u", "inner/trunk/Conv_1/kernel/u",
                     "inner/trunk/Dense_0/kernel/u", "inner/Dense_0/kernel/u"}
    # u of a conv kernel [4, 4, in, out] read as the matrix [16 in, out] has `out` entries.
    assert sn_state(variables)["inner/trunk/Conv_1/kernel/u"].shape == (1, 128)
    _, updates = D.apply(variables, x, train=True, mutable=["batch_stats"])
    before = variables["batch_stats"]["inner"]["trunk"]["BatchNorm_0"]["mean"]
    after = updates["batch_stats"]["inner"]["trunk"]["BatchNorm_0"]["mean"]
    assert not np.allclose(np.asarray(before), np.asarray(after))


def test_init_keeps_the_raw_kernels_of_the_inner_network():
    inner = SnganDiscriminator((32, 32, 3))
    x = jax.random.uniform(KEY, (2, 32, 32, 3))
    wrapped = spectral_norm(inner).init(KEY, x, train=True)
    raw = inner.init(KEY, x, train=True)
    for a, b in zip(jax.tree.leaves(wrapped["params"]["inner"]), jax.tree.leaves(raw["params"]),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    kernel = np.asarray(raw["params"]["Conv_1"]["kernel"])
    assert kernel.std() == pytest.approx(0.02, rel=0.1)  # N(0, 0.02), not sigma-normalised


def test_u_survives_a_checkpoint_bit_exactly(tmp_path):
    from benchmark.runner.checkpoints import TaskCheckpoints

    D = spectral_norm(Discriminator(use_batch_norm=False))
    x = jax.random.uniform(KEY, (2, 28, 28, 1))
    variables = D.init(KEY, x, train=True)
    _, updates = D.apply(variables, x, train=True, mutable=["batch_stats"])
    state = {"batch_stats": dict(updates["batch_stats"])}
    ckpt = TaskCheckpoints(tmp_path / "ckpt")
    ckpt.save(3, state)
    restored = ckpt.restore(3, state)
    ckpt.close()
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_network_without_kernels_is_a_one_line_error():
    class NoLayers(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            return jnp.mean(x, axis=(1, 2, 3))

    variables = NoLayers().init(KEY, jnp.zeros((1, 4, 4, 1)), train=False)
    with pytest.raises(ValueError, match="no discriminator layers") as info:
        require_kernels(variables.get("params", {}), "nolayers")
    assert "\n" not in str(info.value)


def _count(module, x):
    variables = jax.eval_shape(lambda: module.init(KEY, x, train=False))
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(variables["params"]))


@pytest.mark.parametrize("side, c", [(32, 3), (28, 1), (64, 3)])
def test_sngan_standard_cnn_parameter_counts(side, c):
    from models.architectures.sngan import SnganGenerator

    def deconv(i, o):
        return 16 * i * o + o  # 4x4 kernel + bias

    # G (Table 3a): dense z=128 -> M_g^2 * ch (+bias) + BN per unit, deconvs halving the
    # channels (+BN each), 3x3 conv to c (+bias).
    m, ch, n = {28: (7, 256, 2), 32: (4, 512, 3), 64: (8, 512, 3)}[side]
    g = 128 * m * m * ch + m * m * ch + 2 * m * m * ch
    for _ in range(n):
        g += deconv(ch, ch // 2) + 2 * (ch // 2)
        ch //= 2
    g += 9 * ch * c + c
    # D (Table 3b): seven convs with biases, then dense from the last maps (+bias); the
    # three 4x4/2 SAME convs take 32 -> 4, 28 -> 4 (7 -> 4), 64 -> 8.
    last = {28: 4, 32: 4, 64: 8}[side]
    d = (9 * c * 64 + 64 + deconv(64, 64) + 9 * 64 * 128 + 128 + deconv(128, 128)
         + 9 * 128 * 256 + 256 + deconv(256, 256) + 9 * 256 * 512 + 512 + last * last * 512 + 1)
    if side == 32:
        assert (g, d) == (3_828_739, 2_935_873)
    assert _count(SnganGenerator((side, side, c)), jnp.zeros((2, 128))) == g
    assert _count(SnganDiscriminator((side, side, c)), jnp.zeros((2, side, side, c))) == d
