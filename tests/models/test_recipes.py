"""A model is a recipe: RSGAN's objective against its closed form, labels drawn beside the
images, the public ``train`` function, and a toy architecture and a toy conditional model
registered from inside a test (one decorator each) and trained in a smoke study."""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from benchmark import data
from benchmark import training as train
from benchmark.cli import main as cli
from benchmark.data import DatasetSpec, ImageDataset
from benchmark.runner.results import load_rows
from benchmark.training.base import STEPS, apply_train
from losses import acgan, began, dragan, ns_gan, rsgan
from losses.base import Objective, Outputs
from models import priors, registry

REAL = np.array([-3.0, -0.5, 0.0, 1.0, 4.0])
FAKE = np.array([2.0, -1.0, 0.5, 0.0, -6.0])


def softplus(x):
    return np.logaddexp(0.0, x)


def test_rsgan_losses_are_the_relativistic_standard_gan():
    """Jolicoeur-Martineau 2018: D minimises -E log sigma(D(x) - D(G(z))), G minimises
    -E log sigma(D(G(z)) - D(x)), pairwise over the batch."""
    out = Outputs(jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32))
    np.testing.assert_allclose(rsgan.discriminator_loss(out, {}, {}),
                               np.mean(softplus(-(REAL - FAKE))), rtol=1e-6)
    np.testing.assert_allclose(rsgan.generator_loss(out, {}, {}),
                               np.mean(softplus(-(FAKE - REAL))), rtol=1e-6)
    assert rsgan.OBJECTIVE.generator_sees_real and not ns_gan.OBJECTIVE.generator_sees_real
    assert models.get("rsgan").objective is rsgan.OBJECTIVE


def test_rsgan_generator_step_sees_the_updated_d_on_the_real_batch():
    """One RSGAN step: its logged g_loss is G's loss against the D of after the D update on
    the same real batch (recomputed by hand here)."""
    structure = train.Structure("rsgan", (8, 8, 1), batch_size=4)
    state = train.init_run(structure, 4, 3)
    x = jax.random.uniform(jax.random.PRNGKey(5), (4, 8, 8, 1))
    hp = {"lr": jnp.float32(1e-2), "beta1": jnp.float32(0.5)}
    step = jax.jit(lambda s: train.family_step(structure, s, hp, train.Batch(x), jnp.int32(0)))
    new, metrics = step(state)
    G, D = train.family(structure).generator(structure), train.family(structure).discriminator(
        structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), 0)
    z = priors.sample(jax.random.split(key, 3)[0], (4, structure.z_dim), "uniform")
    # G before its update, its BN statistics after the D step's pass; D after its update
    _, g_stats = apply_train(G, state.params["generator"],
                                        state.batch_stats["generator"], z)
    images, _ = apply_train(G, state.params["generator"], g_stats, z)
    d_params, d_stats = new.params["discriminator"], new.batch_stats["discriminator"]
    d_real, _ = apply_train(D, d_params, d_stats, x)
    d_fake, _ = apply_train(D, d_params, d_stats, images)
    expected = np.mean(softplus(-(np.asarray(d_fake, np.float64) - np.asarray(d_real))))
    np.testing.assert_allclose(metrics["g_loss"], expected, rtol=1e-4)


def test_minibatch_draws_labels_with_the_images_permutation():
    structure = train.Structure("ns_gan", (2, 2, 1), batch_size=4)
    state = train.init_run(structure, 12, 0)
    images = np.broadcast_to(np.arange(12, dtype=np.uint8)[:, None, None, None], (12, 2, 2, 1))
    labels = (np.arange(12) * 7) % 10
    for t in range(6):  # two epochs of three batches
        batch, perm = train.minibatch(state, jnp.asarray(images), 1.0, jnp.int32(t), 4,
                                      jnp.asarray(labels))
        state = state.replace(perm=perm)
        index = np.asarray(batch.x[:, 0, 0, 0]).astype(int)
        np.testing.assert_array_equal(np.asarray(batch.y), labels[index])
        assert batch.y.dtype == jnp.int32
    no_labels, _ = train.minibatch(state, jnp.asarray(images), 1.0, jnp.int32(0), 4)
    assert no_labels.y is None


def test_train_is_the_trainer_from_fresh_runs():
    """``train.train`` = fresh states from the seeds + ``Trainer.advance`` over the steps."""
    structure = train.Structure("ns_gan", (8, 8, 1), batch_size=4)
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.integers(0, 256, (16, 8, 8, 1), dtype=np.uint8))
    hps = {"lr": [1e-4, 2e-4], "beta1": 0.5}
    plan = train.default_plan("cpu")
    states, logs = train.train(structure, hps, images, [1, 2], 3, scale=1 / 255, plan=plan)
    fresh = train.init_runs(structure, 16, np.array([1, 2], np.uint32))
    hp_arrays = {"beta1": jnp.full((2,), 0.5, jnp.float32),
                 "lr": jnp.asarray([1e-4, 2e-4], jnp.float32)}
    ref, ref_logs = train.Trainer(structure, plan).advance(fresh, hp_arrays, images, 1 / 255,
                                                           0, 3)
    for a, b in zip(jax.tree.leaves(states), jax.tree.leaves(ref), strict=True):
        np.testing.assert_array_equal(a, b)
    assert set(logs) == {"d_loss", "g_loss"} and logs["d_loss"].shape == (2,)
    for k in logs:
        np.testing.assert_array_equal(logs[k], ref_logs[k])


# --- a toy architecture and a toy conditional model, registered from here -------------------


class TinyGenerator(nn.Module):
    shape: tuple[int, int, int]

    @nn.compact
    def __call__(self, z, train: bool):
        return nn.sigmoid(nn.Dense(int(np.prod(self.shape)))(z)).reshape(
            (z.shape[0], *self.shape))


class TinyDiscriminator(nn.Module):
    """Logits [B] and, for models with labels, class logits [B, K] as an extra head."""

    num_classes: int | None

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.relu(nn.Dense(16)(x.reshape((x.shape[0], -1))))
        logit = nn.Dense(1)(h)[:, 0]
        if self.num_classes is None:
            return logit
        return logit, {"class": nn.Dense(self.num_classes)(h)}


def class_loss(out: Outputs, hp, extra):
    """NS GAN's D loss plus the cross-entropy of D's class head on the real batch's labels
    (an AC-GAN-like toy: the labels reach the objective)."""
    logp = jax.nn.log_softmax(out.aux_real["class"])
    ce = -jnp.mean(jnp.take_along_axis(logp, out.y[:, None], axis=1))
    return ns_gan.discriminator_loss(out, hp, extra) + ce


def _toy_labeled(data_dir=None, **_):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 160).astype(np.int32)
    images = (np.repeat(labels[:, None, None, None], 8, 1).repeat(8, 2) * 100).astype(np.uint8)
    return ImageDataset("toy_labeled", images[:128], images[128:], train_labels=labels[:128],
                        test_labels=labels[128:], num_classes=3)


TOY = DatasetSpec(name="toy_labeled", title="Toy classes", image_shape=(8, 8, 1),
                  train_steps=4, eval_every=2, load=_toy_labeled,
                  splits={"train": 128, "test": 32}, fid_reference_split=None,
                  sources=("generated",), offers=frozenset({"images", "labels"}), num_classes=3)


@pytest.fixture
def toy_registries(monkeypatch):
    """The registries as copies, so that what a test registers goes with it."""
    monkeypatch.setattr(registry, "RECIPES", dict(registry.RECIPES))
    monkeypatch.setattr(registry, "ARCHITECTURES", dict(registry.registered_architectures()))
    monkeypatch.setitem(data.REGISTRY, "toy_labeled", TOY)


def test_a_toy_architecture_and_conditional_model_plug_in(toy_registries, tmp_path, capsys):
    @registry.register_architecture("tiny")
    class Tiny(registry.Architecture):
        def generator(self, facts):
            return TinyGenerator(tuple(facts.image_shape))

        def discriminator(self, facts):
            return TinyDiscriminator(facts.num_classes)

    @registry.register_model("toy_classes")
    def toy_classes() -> registry.Model:
        return registry.Model("Toy classes GAN", Objective(class_loss, ns_gan.generator_loss),
                              common={"lr": 1e-3, "beta1": 0.5, "n_disc": 1, "disc_bn": False},
                              arch="tiny", needs=frozenset({"images", "labels"}))

    out = tmp_path / "toy"
    args = ["train", "--model", "toy_classes,ns_gan", "--dataset", "toy_labeled", "--arch",
            "tiny", "--profile", "smoke", "--results-dir", str(out), "--no-progress"]
    assert cli.main(args) == 0
    rows = load_rows(out)
    assert set(rows["arch"]) == {"tiny"} and rows["d_loss"].notna().all()
    # the arch is in the run id only where it is not the model's default
    assert set(rows["run_id"]) == {"toy_classes_toy_labeled_c000_s0",
                                   "ns_gan_arch-tiny_toy_labeled_c000_s0"}
    assert cli.main(["report", str(out)]) == 0
    assert "Toy classes GAN" in (out / "report" / "summary.md").read_text()
    capsys.readouterr()

    # a model that needs labels, on a data set without them: one line, exit 2, nothing written
    bad = tmp_path / "bad"
    code = cli.main(["train", "--model", "toy_classes", "--dataset", "triangles",
                     "--profile", "smoke", "--results-dir", str(bad), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and not bad.exists()
    assert "toy_classes" in err and "labels" in err and "triangles" in err


def test_unknown_or_unfit_architectures_are_one_line_errors(toy_registries, tmp_path, capsys):
    code = cli.main(["train", "--model", "ns_gan", "--arch", "nope", "--profile", "smoke",
                     "--results-dir", str(tmp_path / "a"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "nope" in err and "infogan" in err

    @registry.register_architecture("by_eight")
    class ByEight(registry.Architecture):
        def unsupported(self, image_shape):
            return None if image_shape[0] % 8 == 0 else "by_eight needs a height divisible by 8"

    with pytest.raises(ValueError, match="by_eight needs"):
        models.check_architecture("by_eight", (28, 28, 1), "mnist")
    assert models.check_architecture("by_eight", (32, 32, 3), "cifar10") is None


def test_every_file_of_the_registries_registers_itself():
    """A file under models/zoo, models/architectures or benchmark/training/families is
    imported by its package and registers under its own name: no import line to add."""
    root = Path(__file__).resolve().parents[2]

    def stems(folder):
        return {p.stem for p in (root / folder).glob("*.py") if p.stem != "__init__"}

    assert stems("models/zoo") == set(models.names())
    assert stems("models/architectures") == set(registry.registered_architectures())
    assert stems("benchmark/training/families") == set(train.FAMILIES)


def test_each_model_names_an_objective_and_an_architecture_that_suit_it():
    """Recipes name their objective by reference (``losses/`` imports JAX): every reference
    resolves, to one object per model and options; and a model's own architecture is one its
    family trains (``sweeps.runs.make_run`` checks only a chosen ``--arch``)."""
    for name in models.names():
        model = models.get(name)
        arch = models.architecture(model.arch)
        assert arch.family in (None, model.family), name
        assert (model.objective is None) == (model.family == "sequence"), name
        for key, values in model.options.items():
            for value in values:
                variant = models.get(name, {key: value})
                assert variant.objective is variant.objective, (name, key, value)
    assert models.get("ns_gan").objective is ns_gan.OBJECTIVE
    assert models.get("dcgan").objective is ns_gan.OBJECTIVE
    assert models.get("acgan", {"generator": "non_saturating"}).objective is acgan.NON_SATURATING
    assert models.get("dragan").options["perturbation"] == dragan.PERTURBATIONS
    assert models.get("dragan", {"perturbation": "gaussian"}).objective.penalty.keywords == \
        {"kind": "gaussian"}
    clipped = models.get("began", {"clip_k": "yes"}).objective
    assert clipped is not began.OBJECTIVE
    assert clipped is models.get("began", {"clip_k": "yes"}).objective
    assert registry.resolve_objective(ns_gan.OBJECTIVE) is ns_gan.OBJECTIVE
