"""The encoder family (docs/protocol.md §12.5): BiGAN's D sees (x, E(x)) as real and
(G(z), z) as fake."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark.training.families.encoder import encode_and_generate, score_pairs
from models.architectures.bigan import GeneratorWithEncoder


class MeanEncoder(nn.Module):
    """E(x) = the image's mean pixel, in every coordinate."""

    @nn.compact
    def __call__(self, x, train, key=None):
        z = jnp.broadcast_to(jnp.mean(x, axis=(1, 2, 3))[:, None], (x.shape[0], 2))
        return z, z, None


class FillGenerator(nn.Module):
    """G(z) = an image filled with 10 + z[0]."""

    @nn.compact
    def __call__(self, z, train, logits=False):
        return jnp.broadcast_to(10.0 + z[:, 0, None, None, None], (z.shape[0], 2, 2, 1))


class PairFingerprint(nn.Module):
    """D(x, z) = 1000 mean(x) + z[0]: which image and which code it saw."""

    @nn.compact
    def __call__(self, x, train, z=None):
        return 1000.0 * jnp.mean(x, axis=(1, 2, 3)) + z[:, 0]


def test_bigan_discriminator_sees_real_pairs_and_fake_pairs():
    G = GeneratorWithEncoder(FillGenerator(), MeanEncoder(), (2, 2, 1))
    x = jnp.arange(12.0).reshape(3, 2, 2, 1) / 12.0
    z = jnp.array([[0.1, 0.0], [0.2, 0.0], [0.3, 0.0]])
    (z_hat, fake), _ = encode_and_generate(G, x, z, None)({}, {})
    out, _ = score_pairs(PairFingerprint(), {}, {}, x, z, z_hat, fake, None)
    mean_x = jnp.mean(x, axis=(1, 2, 3))
    np.testing.assert_allclose(out.d_real, 1000.0 * mean_x + mean_x, rtol=1e-6)  # (x, E(x))
    np.testing.assert_allclose(out.d_fake, 1000.0 * (10.0 + z[:, 0]) + z[:, 0], rtol=1e-6)
    assert jax.tree.leaves(out.aux_real) == []


def test_recomputed_bn_statistics_cover_the_encoder():
    """Precise BN for a G that holds an encoder with batch norm (BiGAN, disc_bn): E's averages
    recomputed from one batch of images make E's inference mode on it E's training-mode pass
    on it, every variance positive; without images E keeps its running averages; G's part is
    what G's pass on the latents gives either way. (Before: G's pass on z left E's averages
    at the zeros it started from, so E divided by sqrt(0 + eps).)"""
    from benchmark import training as train
    from benchmark.training.generators import generator_encode
    from models import priors

    structure = train.Structure("bigan", (28, 28, 1), batch_size=8)
    states = train.init_runs(structure, 100, np.array([0, 1], np.uint32))
    assert jax.tree.leaves(states.batch_stats["generator"]["encoder"])  # E has batch norm
    G = train.family(structure).generator(structure)
    z = priors.sample(jax.random.PRNGKey(3), (1, 16, structure.z_dim), structure.recipe.latent)
    x = jax.random.uniform(jax.random.PRNGKey(4), (1, 16, 28, 28, 1))
    fixed = train.recompute_generator_stats(states, z, structure=structure, x=x)
    encode = generator_encode(structure)
    for run in range(2):
        variables = jax.tree.map(lambda a, r=run: a[r], train.generator_variables(states))
        recomputed = jax.tree.map(lambda a, r=run: a[r], train.generator_variables(fixed))
        (training, _, _), _ = G.apply(variables, x[0], train=True, mutable=["batch_stats"],
                                      method=GeneratorWithEncoder.encode)
        np.testing.assert_allclose(encode(recomputed, x[0]), training, atol=2e-4)
    variances = [v for path, v in jax.tree_util.tree_leaves_with_path(
        fixed.batch_stats["generator"]["encoder"]) if path[-1].key == "var"]
    assert variances and all(float(v.min()) > 0 for v in variances)
    kept = train.recompute_generator_stats(states, z, structure=structure)
    jax.tree.map(np.testing.assert_array_equal, kept.batch_stats["generator"]["encoder"],
                 states.batch_stats["generator"]["encoder"])
    jax.tree.map(np.testing.assert_array_equal, kept.batch_stats["generator"]["generator"],
                 fixed.batch_stats["generator"]["generator"])


def test_bigan_encoder_squashes_its_codes_into_the_uniform_priors_range():
    """BiGAN's E(x) = 2 sigmoid(a) - 1 of its linear head's output a ([BiGAN code]
    UniformDistribution.logits_to_recon): inside U(-1, 1)'s support even for large a."""
    from models.architectures.bigan import DeterministicEncoder

    E = DeterministicEncoder(8, use_batch_norm=False)
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 28, 28, 1))
    v = E.init(jax.random.PRNGKey(1), x, train=False)
    v = jax.tree.map(lambda a: a * 30.0, v)  # large pre-activations
    (z, mu, sigma), state = E.apply(v, x, train=False, capture_intermediates=True)
    a = state["intermediates"]["Dense_0"]["__call__"][0]
    assert sigma is None and mu is z and float(jnp.max(jnp.abs(a))) > 5.0
    np.testing.assert_allclose(z, np.tanh(np.asarray(a) / 2.0), rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(z))) <= 1.0


def test_bigan_discriminator_joins_z_into_each_hidden_layer():
    """BiGAN's D adds a linear map of z to conv128's and fc1024's pre-activations ([BiGAN code]
    net.py, apply_cond): with both maps zeroed D ignores z; with either one left it does not."""
    from models.architectures.bigan import BiganDiscriminator

    D = BiganDiscriminator(use_batch_norm=True, z_dim=5)
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 28, 28, 1))
    z = jax.random.uniform(jax.random.PRNGKey(1), (4, 5), minval=-1.0, maxval=1.0)
    v = D.init(jax.random.PRNGKey(2), x, train=False, z=z)
    p = v["params"]
    assert p["Dense_0"]["kernel"].shape == (5, 128) and p["Dense_2"]["kernel"].shape == (5, 1024)

    def without(*names):
        return {**v, "params": {k: jax.tree.map(jnp.zeros_like, w) if k in names else w
                                for k, w in p.items()}}

    def moves(variables):
        return not np.allclose(D.apply(variables, x, train=False, z=z),
                               D.apply(variables, x, train=False, z=-z), atol=1e-6)

    assert moves(v) and moves(without("Dense_0")) and moves(without("Dense_2"))
    assert not moves(without("Dense_0", "Dense_2"))



def test_bigan_discriminator_in_training_mode_is_blind_to_a_batchwide_shift_of_z():
    """Why BiGAN's D sits near chance early (docs/beyond.md, the triangles): z is joined before
    D's batch norms, each batch (real and fake: separate passes, as [BiGAN code] gan.py,
    Featurizer, runs them without --cat_inputs) is normalised over itself, so a code c added
    to every z of a batch changes nothing in training mode; the biases of the two pre-BN
    layers get no gradient. Without batch norm, or in inference mode, the shift shows."""
    from models.architectures.bigan import BiganDiscriminator

    x = jax.random.uniform(jax.random.PRNGKey(0), (16, 28, 28, 1))
    z = jax.random.uniform(jax.random.PRNGKey(1), (16, 5), minval=-1.0, maxval=1.0)
    c = jnp.array([0.7, -0.4, 0.2, 0.9, -0.8])
    for bn in (True, False):
        D = BiganDiscriminator(use_batch_norm=bn, z_dim=5)
        v = D.init(jax.random.PRNGKey(2), x, train=False, z=z)

        def logits(zz, variables=v, D=D, train=True):
            out = D.apply(variables, x, train=train, z=zz, mutable=["batch_stats"])
            return out[0]

        shifted = logits(z + c)
        assert float(jnp.std(logits(z))) > 0.01  # D's logits vary over the batch
        if bn:
            np.testing.assert_allclose(shifted, logits(z), rtol=1e-4, atol=1e-4)
            assert not np.allclose(logits(z + c, train=False), logits(z, train=False),
                                   atol=1e-3)

            def loss(p, variables=v, D=D):
                return jnp.mean(D.apply({**variables, "params": p}, x, train=True, z=z,
                                        mutable=["batch_stats"])[0] ** 2)

            g = jax.grad(loss)(v["params"])
            for name in ("Conv_1", "Dense_0", "Dense_1", "Dense_2"):  # pre-BN biases
                assert float(jnp.max(jnp.abs(g[name]["bias"]))) < 1e-6, name
            assert float(jnp.max(jnp.abs(g["Dense_0"]["kernel"]))) > 1e-6  # z's map learns
        else:
            assert not np.allclose(shifted, logits(z), atol=1e-3)

def test_ali_discriminator_drops_its_inputs_at_ali_rates():
    """ALI's D in training mode with a dropout rng: about 20% of x's pixels and z's values
    dropped, about 50% of the later layers' inputs ([ALI] appendix tables); fresh masks per
    key; no dropout in inference mode."""
    from models.architectures.bigan import JointDiscriminator

    D = JointDiscriminator(use_batch_norm=False, z_dim=64)
    x = jnp.ones((64, 28, 28, 1))
    z = jnp.ones((64, 64))
    v = D.init(jax.random.PRNGKey(0), x, train=False, z=z)
    out, state = D.apply(v, x, train=True, z=z, rngs={"dropout": jax.random.PRNGKey(1)},
                         capture_intermediates=True)
    dropped = {name: float(jnp.mean(o["__call__"][0] == 0.0))
               for name, o in state["intermediates"].items() if name.startswith("Dropout")}
    assert len(dropped) == 6
    assert dropped["Dropout_0"] == pytest.approx(0.2, abs=0.01)  # x (50,176 pixels)
    assert dropped["Dropout_3"] == pytest.approx(0.2, abs=0.02)  # z (4,096 values)
    for name in ("Dropout_1", "Dropout_2", "Dropout_4", "Dropout_5"):
        assert dropped[name] == pytest.approx(0.5, abs=0.05), name
    other = D.apply(v, x, train=True, z=z, rngs={"dropout": jax.random.PRNGKey(2)})
    assert not np.allclose(out, other)
    np.testing.assert_array_equal(D.apply(v, x, train=False, z=z),
                                  D.apply(v, x, train=True, z=z))  # no rng: no dropout


def test_the_preview_evaluation_recomputes_the_encoders_statistics_from_train_images():
    """Evaluator.inference_states under a profile with recompute_bn: E's averages are those of
    E's training-mode passes on recompute_images (distinct train images, fixed), not zeros."""
    from benchmark import data
    from benchmark import training as train
    from benchmark.data import ImageDataset
    from benchmark.evaluation.evaluator import Evaluator
    from sweeps import config as configs

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    ds = ImageDataset("mnist", images, images[:8])
    evaluator = Evaluator(data.get("mnist"), ds, configs.derive(
        {"schedule.steps": 2, "schedule.eval_every": 2, "evaluation.recompute_bn": 2}, name="p"))
    x = evaluator.recompute_images(2, 16)
    assert x.shape == (2, 16, 28, 28, 1)
    flat = x.reshape(32, -1)
    assert len({row.tobytes() for row in flat}) == 32  # without replacement
    stored = ds.as_float(images).reshape(40, -1)
    assert all(any(np.array_equal(row, s) for s in stored) for row in flat)
    np.testing.assert_array_equal(evaluator.recompute_images(2, 16), x)  # fixed
    structure = train.Structure("bigan", (28, 28, 1), batch_size=8)
    states = train.init_runs(structure, 40, np.array([0], np.uint32))
    used = evaluator.inference_states(structure, states, 2).batch_stats["generator"]
    expected = train.recompute_generator_stats(
        states, jnp.zeros((1, 1, structure.z_dim)), structure=structure,
        x=evaluator.recompute_images(2, 64)).batch_stats["generator"]["encoder"]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 used["encoder"], expected)
    variances = [v for p, v in jax.tree_util.tree_leaves_with_path(used["encoder"])
                 if p[-1].key == "var"]
    assert variances and all(float(v.min()) > 0 for v in variances)


def test_debiasing_counts_each_part_of_g_by_its_own_passes():
    """Zero-debiasing (short profiles) takes one count per part of G's variables in the
    encoder family: E and G run once per D step and once per G step, VAE-GAN's decoder twice
    in each (on E's codes and on the prior's). Each part's averages of constant batch
    statistics, debiased with its own count, give those statistics back; a part debiased with
    the other's count does not."""
    from benchmark import training as train
    from models.layers import batch_norm

    for model, decoder_passes in (("bigan", 1), ("vaegan", 2)):
        structure = train.Structure(model, (28, 28, 1), batch_size=8)
        counts = train.generator_bn_updates(structure, 12)  # n_disc 1: 12 G steps
        assert counts == {"encoder": 24, "generator": 24 * decoder_passes}, model
        states = train.init_runs(structure, 100, np.array([0], np.uint32))
        assert set(states.batch_stats["generator"]) <= set(counts)  # every part has a count

    x = jax.random.normal(jax.random.PRNGKey(0), (64, 5)) * 3.0 + 2.0
    bn = batch_norm(train=True)
    variables = bn.init(jax.random.PRNGKey(1), x)

    def averages(n):
        stats = variables["batch_stats"]
        for _ in range(n):
            _, upd = bn.apply({**variables, "batch_stats": stats}, x, mutable=["batch_stats"])
            stats = upd["batch_stats"]
        return stats

    state = train.RunState(key=None, params={}, opt_state={}, extra={}, perm=None,
                           failed_step=None,
                           batch_stats={"generator": {"encoder": averages(10),
                                                      "generator": averages(20)}})
    fixed = train.debias_generator_stats(state, {"encoder": 10, "generator": 20})
    for part in ("encoder", "generator"):
        np.testing.assert_allclose(fixed.batch_stats["generator"][part]["mean"], x.mean(0),
                                   rtol=1e-3)
        np.testing.assert_allclose(fixed.batch_stats["generator"][part]["var"], x.var(0),
                                   rtol=1e-3)
    one_count = train.debias_generator_stats(state, 10).batch_stats["generator"]["generator"]
    assert not np.allclose(one_count["mean"], x.mean(0), rtol=0.2)


@pytest.mark.parametrize("model", ["vae", "bigan"])
def test_reconstruction_png_shows_test_images_above_g_of_e_of_them(model, tmp_path):
    """A model with an encoder (the VAE's in D's slot, BiGAN's held with G) writes, at its
    last evaluation, a row of the first test images above a row of G(E(x)), E's mean in
    inference mode: the PNG's rows are those images, computed here from the networks."""
    import types

    from benchmark import data as datasets
    from benchmark import training as train
    from benchmark.runner import engine
    from benchmark.runner.results import read_image_grid
    from benchmark.training.generators import (
        discriminator_variables,
        encoder_of,
        generator_variables,
    )

    structure = train.Structure(model, (28, 28, 1), batch_size=8)
    states = train.init_runs(structure, 100, np.array([0, 1], np.uint32))
    data = datasets.load("triangles")
    task = types.SimpleNamespace(runs=[types.SimpleNamespace(run_id=f"r{i}") for i in (0, 1)])
    engine._reconstruction_pngs(task, structure, states, np.array([False, True]), data,
                                tmp_path)
    assert not (tmp_path / "samples" / "r1").exists()  # a failed run draws nothing
    grid = read_image_grid((tmp_path / "samples" / "r0" / engine.RECON_PNG).read_bytes(),
                           (28, 28, 1)).reshape(2, engine.RECON_IMAGES, 28, 28, 1)
    x = data.as_float(data.split("test")[: engine.RECON_IMAGES])
    trains = train.family(structure)
    G, D = trains.generator(structure), trains.discriminator(structure)
    one = lambda part: jax.tree.map(lambda a: a[0], {  # noqa: E731
        "params": states.params[part], "batch_stats": states.batch_stats[part]})
    if model == "vae":
        codes = D.apply(one("discriminator"), x, train=False)[0]
        assert encoder_of(structure)[1] is discriminator_variables
    else:
        codes = G.apply(one("generator"), x, train=False, method=GeneratorWithEncoder.encode)[1]
        assert encoder_of(structure)[1] is generator_variables
    recon = np.asarray(G.apply(one("generator"), codes, train=False))
    np.testing.assert_allclose(grid[0], x, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(grid[1], recon, atol=0.5 / 255 + 1e-6)
    assert encoder_of(train.Structure("ns_gan", (28, 28, 1), batch_size=8)) is None


def test_the_vaes_encoder_statistics_are_recomputed_from_images_like_an_encoder_held_with_g():
    """The VAE's encoder sits in D's slot (disc_bn on): precise BN recomputes its averages
    from its training-mode passes on the images, so with one batch its inference-mode codes
    are its training-mode codes on that batch; without images they stay as trained."""
    from benchmark import training as train
    from benchmark.training.generators import (
        discriminator_variables,
        encoder_of,
    )

    structure = train.Structure("vae", (28, 28, 1), disc_bn=True, batch_size=8)
    states = train.init_runs(structure, 100, np.array([0], np.uint32))
    assert jax.tree.leaves(states.batch_stats["discriminator"])  # the encoder has batch norm
    x = jax.random.uniform(jax.random.PRNGKey(4), (1, 16, 28, 28, 1))
    z = jnp.zeros((1, 4, structure.z_dim))
    fixed = train.recompute_generator_stats(states, z, structure=structure, x=x)
    encode, variables_of = encoder_of(structure)
    assert variables_of is discriminator_variables
    E = train.family(structure).discriminator(structure)
    one = lambda s: jax.tree.map(lambda a: a[0], {  # noqa: E731
        "params": s.params["discriminator"], "batch_stats": s.batch_stats["discriminator"]})
    (training, _), _ = E.apply(one(states), x[0], train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(encode(one(fixed), x[0]), training, atol=2e-4)
    kept = train.recompute_generator_stats(states, z, structure=structure)
    jax.tree.map(np.testing.assert_array_equal, kept.batch_stats["discriminator"],
                 states.batch_stats["discriminator"])


def test_the_report_shows_reconstructions_below_an_encoder_models_samples(tmp_path,
                                                                          cheap_metrics):
    """``train --model vae`` (smoke): the run's reconstruction.png reaches the report beside
    the montage, and the montage draws it below the VAE's samples as two rows (test images,
    then G(E(x))); a model without an encoder has no such row."""
    from benchmark.cli import main as cli
    from benchmark.cli.report_files import montage_samples
    from benchmark.runner import engine
    from benchmark.runner.results import load_rows

    out = tmp_path / "vae"
    assert cli.main(["train", "--model", "vae,ns_gan", "--profile", "smoke", "--results-dir",
                     str(out), "--no-progress"]) == 0
    assert (out / "report" / "reconstruction_triangles_vae.png").is_file()
    assert not (out / "report" / "reconstruction_triangles_ns_gan.png").exists()
    rows = montage_samples(out, load_rows(out))
    recon = [(label, s) for label, s in rows if "G(E(x))" in label]
    assert len(rows) == 3 and len(recon) == 1  # two sample rows, one reconstruction row
    assert "VAE" in recon[0][0]
    assert recon[0][1].shape == (2, engine.RECON_IMAGES, 28, 28, 1)
