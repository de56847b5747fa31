"""The G step takes the D step's pass of G (docs/protocol.md §4.2): where the G update uses the
D step's z, its gradient is that pass's pullback, and G's batch-norm averages take the second
update a second pass would have made. Checked against the same step computed the plain way
(G run again in the G step), and by counting the step's convolutions and matrix products: the
saving is exactly one forward pass of G. WGAN-GP draws a fresh z for G and keeps the plain way.
"""

from __future__ import annotations

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

import models
from benchmark import training as train
from benchmark.training.base import Batch
from benchmark.training.families import gan
from models.layers import BN_DECAY, only_batch_norm, repeat_batch_norm_update

SHAPE = (8, 8, 1)
BATCH = 8


def hparams(model: str) -> dict:
    """The model's author defaults as the step's float hyperparameters, lr raised so that one
    step moves every parameter visibly."""
    hp = {k: jnp.float32(v) for k, v in models.get(model).defaults.items()
          if k not in ("n_disc", "disc_bn")}
    return {**hp, "lr": jnp.float32(1e-2)}


def heavy_ops(fn, *args) -> int:
    """The convolutions and matrix products in ``fn``'s jaxpr, sub-jaxprs included."""
    def count(jaxpr) -> int:
        n = 0
        for eqn in jaxpr.eqns:
            n += eqn.primitive.name in ("conv_general_dilated", "dot_general")
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                n += count(sub)
        return n
    return count(jax.make_jaxpr(fn)(*args).jaxpr)


def steps(model: str, monkeypatch):
    """The model's first step (a G step) computed as shipped and the plain way, with the
    heavy ops of each and of the D step's pass of G (counted where the family makes it)."""
    structure = train.Structure(model, SHAPE, batch_size=BATCH)
    state = train.init_run(structure, BATCH, 11)
    x = jax.random.uniform(jax.random.PRNGKey(2), (BATCH, *SHAPE))
    y = jnp.arange(BATCH) % 10 if structure.needs_labels else None
    hp = hparams(model)
    g_forward = []
    make_pass = gan.generator_pass

    def counted_pass(structure, pass_of, g_params, g_stats):
        g_forward.append(heavy_ops(lambda gp: pass_of(gp, g_stats), g_params))
        return make_pass(structure, pass_of, g_params, g_stats)

    def run():
        def step(s):  # a new function each time: JAX caches traces by function
            return train.family_step(structure, s, hp, Batch(x, y), jnp.int32(0), g_step=True)
        return jax.jit(step)(state), heavy_ops(step, state)

    monkeypatch.setattr(gan, "generator_pass", counted_pass)
    shipped = run()
    with monkeypatch.context() as m:
        m.setattr(gan, "reuses_generator_pass", lambda *_: False)
        plain = run()
    return structure, state, shipped, plain, g_forward[-1]


# one of each family that makes a pass of G in its D step: the GAN family (NS GAN; BEGAN, whose
# k is updated from a pass after the step), the conditional family (CGAN: labels; InfoGAN: its
# Q head), the multiscale family (LAPGAN: G's bands conditioned on the real pyramid), the
# encoder family (BiGAN: E's pass on the real batch and G's on z, one pass of both)
@pytest.mark.parametrize("model", ["ns_gan", "began", "cgan", "infogan", "lapgan", "bigan"])
def test_the_generator_step_takes_the_d_steps_pass_of_g(model, monkeypatch):
    structure, state, (shipped, ops), (plain, plain_ops), g_forward = steps(model, monkeypatch)
    assert gan.reuses_generator_pass(structure, state.batch_stats["generator"])
    assert g_forward > 0 and ops == plain_ops - g_forward
    (new, metrics), (ref, ref_metrics) = shipped, plain
    # same gradients, so the same parameters and Adam moments, and the same losses
    for a, b in zip(jax.tree.leaves((new.params, new.opt_state, new.extra)),
                    jax.tree.leaves((ref.params, ref.opt_state, ref.extra)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in ref_metrics:
        np.testing.assert_allclose(metrics[k], ref_metrics[k], rtol=1e-5)
    moved = [np.max(np.abs(a - b)) for a, b in zip(
        jax.tree.leaves(new.params["generator"]),
        jax.tree.leaves(state.params["generator"]), strict=True)]
    assert max(moved) > 1e-4  # G was updated (a LAPGAN level's leaf may get no gradient)
    # G's averages: a second update with the same batch statistics, not a stale copy
    for a, b in zip(jax.tree.leaves(new.batch_stats), jax.tree.leaves(ref.batch_stats),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=2e-7)
    g_before = jax.tree.leaves(state.batch_stats["generator"])
    g_after = jax.tree.leaves(new.batch_stats["generator"])
    assert (model == "lapgan") == (not g_before)  # LAPGAN's G has no batch norm
    assert not g_before or any(np.max(np.abs(a - b)) > 1e-4
                               for a, b in zip(g_after, g_before, strict=True))


def test_a_fresh_z_for_g_keeps_the_plain_generator_step(monkeypatch):
    structure, state, (shipped, ops), (plain, plain_ops), _ = steps("wgan_gp", monkeypatch)
    assert not gan.reuses_generator_pass(structure, state.batch_stats["generator"])
    assert ops == plain_ops
    for a, b in zip(jax.tree.leaves(shipped), jax.tree.leaves(plain), strict=True):
        np.testing.assert_array_equal(a, b)


def test_vaegans_generator_step_makes_one_pass_for_both_losses():
    """VAE-GAN's E and G descend two losses of one pass: the pass run once and pulled back
    per loss equals two ``jax.grad`` calls that each run it, and XLA counts fewer FLOPs."""
    from benchmark.training.families import encoder

    structure = train.Structure("vaegan", SHAPE, batch_size=BATCH)
    state = train.init_run(structure, BATCH, 5)
    objective, hp = structure.recipe.objective, hparams("vaegan")
    G, D = gan.generator(structure), gan.discriminator(structure)
    x = jax.random.uniform(jax.random.PRNGKey(3), (BATCH, *SHAPE))
    z = jax.random.normal(jax.random.PRNGKey(4), (BATCH, structure.z_dim))
    g_params = state.params["generator"]

    def parts(gp):
        return encoder.vaegan_outputs(G, D, gp, state.batch_stats["generator"],
                                      state.params["discriminator"],
                                      state.batch_stats["discriminator"], x, z,
                                      jax.random.PRNGKey(6))[:2]

    def shipped(gp):
        return encoder.vaegan_gradients(objective, hp, parts, gp)[:3]

    def plain(gp):  # the step as it was: one pass per loss
        def dec_objective(p):
            out, stats = parts(p)
            return objective.decoder_loss(out, hp), stats

        enc = jax.grad(lambda p: objective.encoder_loss(parts(p)[0], hp))(gp)
        (loss, stats), dec = jax.value_and_grad(dec_objective, has_aux=True)(gp)
        return loss, {"encoder": enc["encoder"], "generator": dec["generator"]}, stats

    def flops(fn):
        cost = jax.jit(fn).lower(g_params).compile().cost_analysis()
        return (cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"]

    loss, grads, stats = jax.jit(shipped)(g_params)
    ref_loss, ref_grads, ref_stats = jax.jit(plain)(g_params)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves((grads, stats)), jax.tree.leaves((ref_grads, ref_stats)),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    for part in ("encoder", "generator"):
        assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grads[part])) > 0
    assert flops(shipped) < flops(plain)


def test_repeat_batch_norm_update_is_a_second_ema_update():
    """a1 = d a0 + (1 - d) b, a2 = d a1 + (1 - d) b; and only batch norm's mean and var
    qualify (spectral norm's vectors move differently at every pass)."""
    a0, b = np.float64(0.3), np.float64(-1.7)
    a1 = BN_DECAY * a0 + (1 - BN_DECAY) * b
    a2 = BN_DECAY * a1 + (1 - BN_DECAY) * b
    np.testing.assert_allclose(repeat_batch_norm_update({"m": a0}, {"m": a1})["m"], a2,
                               rtol=1e-12)
    assert only_batch_norm({"BatchNorm_0": {"mean": 0, "var": 1}, "Block_0": {
        "BatchNorm_1": {"mean": 0, "var": 1}}})
    assert only_batch_norm({})
    assert not only_batch_norm({"BatchNorm_0": {"mean": 0}, "Dense_0": {"u": 0}})
    assert not only_batch_norm({"SpectralNorm_0": {"mean": 0}})
