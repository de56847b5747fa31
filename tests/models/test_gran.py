"""GRAN (docs/protocol.md §13.4): hand-counted sizes with weights shared by the steps, the
canvas as the running sum of the steps' drawings, the sample as the last canvas, the authors'
initialisers in G and D, and their optimiser (beta1 0, D's lr 0.4 times G's)."""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import models
from benchmark.training import Structure, init_runs, train
from benchmark.training.base import adam
from models.architectures.dcgan import DcganDiscriminator
from models.architectures.gran import GranGenerator, canvases
from sweeps.config import resolve
from sweeps.runs import make_run
from sweeps.studies import profile_hparams

KEY = jax.random.PRNGKey(0)
DIM = 12


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def hand_count(steps: int) -> int:
    """28x28x1, width 8: s = 7, n = 2, channels [16, 8]."""
    f = (
        DIM * DIM + DIM                 # h_z dense
        + 2 * DIM                       # h_z's BN
        + 2 * DIM * 16 * 49 + 16 * 49   # f_in: [h_z, h_c] -> 7x7x16
        + 16 * 16 * 8 + 8               # f_deconv0: 4x4, 16 -> 8
        + 16 * 8 * 1 + 1                # f_out: 4x4, 8 -> 1
    )
    g = (
        16 * 1 * 8 + 8                  # g conv 28 -> 14, 1 -> 8
        + 16 * 8 * 16 + 16              # g conv 14 -> 7, 8 -> 16
        + 7 * 7 * 16 * DIM + DIM        # g_out dense
    )  # g only exists where a later step reads it (T > 1)
    shared = f + (g if steps > 1 else 0)
    per_step_f = 2 * 16 * 49                  # f's BN, every step
    per_step_g = 2 * 8 + 2 * 16 + 2 * DIM     # g's BNs, every step but the last
    return shared + steps * per_step_f + (steps - 1) * per_step_g


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_parameter_count_grows_only_by_the_per_step_batch_norms(steps):
    G = GranGenerator((28, 28, 1), steps=steps, width=8)
    variables = jax.eval_shape(lambda: G.init(KEY, jnp.zeros((2, DIM)), train=False))
    assert count(variables["params"]) == hand_count(steps)


def test_canvas_is_the_running_sum_and_the_sample_its_last_state():
    G = GranGenerator((28, 28, 1), steps=3, width=8)
    z = jax.random.normal(KEY, (4, DIM))
    variables = G.init(KEY, z, train=True)
    strip = canvases(G, variables, z)
    sample = G.apply(variables, z, train=False)
    assert len(strip) == 3 and all(c.shape == (4, 28, 28, 1) for c in strip)
    np.testing.assert_allclose(np.asarray(strip[-1]), np.asarray(sample), atol=1e-6)
    logits = [np.log(np.asarray(c, np.float64)) - np.log1p(-np.asarray(c, np.float64))
              for c in strip]
    # Each step adds its own drawing: the canvases differ, and no step is the identity.
    assert all(np.abs(b - a).max() > 1e-4 for a, b in zip(logits, logits[1:], strict=False))
    assert float(sample.min()) >= 0.0 and float(sample.max()) <= 1.0


def test_training_mode_updates_batch_norm_and_d_is_dcgans():
    shape = (32, 32, 3)
    G = GranGenerator(shape, steps=2, width=8)
    z = jax.random.normal(KEY, (4, DIM))
    variables = G.init(KEY, z, train=True)
    images, updates = G.apply(variables, z, train=True, mutable=["batch_stats"])
    assert images.shape == (4, *shape)
    D = DcganDiscriminator(shape, width=8)
    d_vars = D.init(KEY, images, train=True)
    assert D.apply(d_vars, images, train=False).shape == (4,)


def test_zero_steps_is_a_one_line_error():
    with pytest.raises(ValueError, match="at least one drawing step") as info:
        GranGenerator((28, 28, 1), steps=0).init(KEY, jnp.zeros((1, DIM)), train=False)
    assert "\n" not in str(info.value)


def kernels(params, prefix=()):
    """(path, kernel) for every kernel in a params tree."""
    out = []
    for key, value in params.items():
        if isinstance(value, dict):
            out += kernels(value, (*prefix, key))
        elif key == "kernel":
            out.append(("/".join(prefix), np.asarray(value, np.float64)))
    return out


def check_authors_init(params):
    """Dense kernels [in, out]: U(+-sqrt(6 / (in + out))) (the authors' utils.initialize_weight,
    'uniform'); conv and deconv kernels [kh, kw, in, out]: N(0, 0.01) (utils.init_conv_weights
    with its default rng_dist 'normal'). Returns the number of each kind checked."""
    dense, convs = 0, []
    for path, k in kernels(params):
        if k.ndim == 2:
            bound = np.sqrt(6.0 / (k.shape[0] + k.shape[1]))
            assert np.abs(k).max() <= bound, path
            if k.size >= 5000:  # enough draws for the statistics of U(-b, b)
                assert np.abs(k).max() > 0.99 * bound, path
                np.testing.assert_allclose(k.std(), bound / np.sqrt(3.0), rtol=0.03, err_msg=path)
                assert abs(k.mean()) < 0.03 * bound, path
            dense += 1
        else:
            assert k.ndim == 4, path
            convs.append(k.ravel())
    pooled = np.concatenate(convs)
    np.testing.assert_allclose(pooled.std(), 0.01, rtol=0.05)
    assert abs(pooled.mean()) < 0.001
    # normal, not uniform: the tails reach past sqrt(3) standard deviations
    assert np.abs(pooled).max() > 3.0 * 0.01
    return dense, len(convs)


def test_generator_and_discriminator_start_from_the_authors_initialisers():
    facts = types.SimpleNamespace(image_shape=(28, 28, 1), z_dim=DIM, disc_bn=True,
                                  num_classes=None, options=(("steps", "2"), ("width", "full")))
    arch = models.architecture("gran")
    G, D = arch.generator(facts), arch.discriminator(facts)
    g_params = G.init(KEY, jnp.zeros((2, DIM)), train=False)["params"]
    d_params = D.init(KEY, jnp.zeros((2, 28, 28, 1)), train=False)["params"]
    # G: h_z, f_in, g_out dense; f's two deconvs and g's two convs. D: two convs, one dense.
    assert check_authors_init(g_params) == (3, 4)
    assert check_authors_init(d_params) == (1, 2)
    f_in = g_params["f_in"]["kernel"]  # [2 * z, 7 * 7 * 256]
    assert f_in.shape == (2 * DIM, 7 * 7 * 256)
    bound = np.sqrt(6.0 / (2 * DIM + 7 * 7 * 256))
    assert 0.99 * bound < float(jnp.abs(f_in).max()) <= bound


def first_adam_step(hp, network):
    """One Adam update of a toy parameter vector with a fixed gradient: its size is the
    learning rate the optimiser applies (Adam's first step is lr * g / (|g| + eps))."""
    hp = {k: jnp.asarray(v, jnp.float32) for k, v in hp.items()}
    params = jnp.zeros(3)
    grads = jnp.array([1.0, -2.0, 0.5])
    opt = adam(hp, network)
    updates, _ = opt.update(grads, opt.init(params), params)
    new = optax.apply_updates(params, updates)
    return np.abs(np.asarray(new))


def test_d_learning_rate_is_four_tenths_of_gs_for_gran_and_equal_for_ns_gan():
    gran = make_run("gran", "triangles", 0)
    assert gran.hp == {"lr": 1e-4, "beta1": 0.0, "d_lr_ratio": 0.4}
    g_step = first_adam_step(gran.hp, "generator")
    d_step = first_adam_step(gran.hp, "discriminator")
    np.testing.assert_allclose(g_step, 1e-4, rtol=1e-4)
    np.testing.assert_allclose(d_step, 0.4 * 1e-4, rtol=1e-4)
    ns = make_run("ns_gan", "triangles", 0)
    assert "d_lr_ratio" not in ns.hp
    np.testing.assert_allclose(first_adam_step(ns.hp, "discriminator"),
                               first_adam_step(ns.hp, "generator"), rtol=0)
    np.testing.assert_allclose(first_adam_step(ns.hp, "discriminator"), ns.hp["lr"], rtol=1e-4)
    with pytest.raises(ValueError, match="unknown network"):
        adam(gran.hp, "encoder")


def test_preview_keeps_grans_beta1_zero_and_its_ratio():
    values = profile_hparams(resolve("preview"), "gran")
    assert (values["lr"], values["beta1"], values["d_lr_ratio"]) == (1e-3, 0.0, 0.4)
    # D's batch norm blocked it at the preview's budget (docs/protocol.md §13.4); the author
    # default keeps it
    assert values["disc_bn"] is False and models.get("gran").defaults["disc_bn"] is True


def test_one_training_step_moves_d_by_the_ratio_times_gs_learning_rate():
    """Through the GAN family's real update (NS GAN's small toy networks, one step from the
    same initial state): Adam's first step moves every parameter with a gradient by its lr,
    so D's largest move is lr x d_lr_ratio and G's lr; the runs differ only in the ratio
    (1, as every model without the hyperparameter, and GRAN's 0.4)."""
    structure = Structure("ns_gan", (8, 8, 1), batch_size=8)
    data = jnp.asarray(np.random.RandomState(0).randint(0, 256, (16, 8, 8, 1)).astype(np.uint8))
    lr = 1e-3
    hp = {"lr": lr, "beta1": 0.0, "d_lr_ratio": np.array([1.0, 0.4], np.float32)}
    before = init_runs(structure, 16, np.array([0, 0], np.uint32))
    after, _ = train(structure, hp, data, [0, 0], 1, scale=1 / 255)

    def largest_move(network):
        moves = jax.tree.map(lambda a, b: jnp.abs(a - b).reshape(2, -1).max(axis=1),
                             after.params[network], before.params[network])
        return np.max(np.stack(jax.tree.leaves(moves)), axis=0)  # [runs]

    np.testing.assert_allclose(largest_move("discriminator"), [lr, 0.4 * lr], rtol=1e-3)
    np.testing.assert_allclose(largest_move("generator"), [lr, lr], rtol=1e-3)
