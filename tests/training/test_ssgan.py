"""The semi-supervised GAN through the house (docs/protocol.md §12.4, §12.7): its fixed
labelled subset, the labelled batch drawn beside the minibatch, D's test error as a registered
metric, and the model trained by the engine on a toy labelled data set."""

from __future__ import annotations

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
from benchmark.training.families import semi_supervised
from losses import ssgan
from metrics import semi_supervised as scores
from metrics.registry import METRICS
from models import registry


def _reference_subset(key, labels, num_classes, per_class):
    """The authors' selection in numpy, on jax's permutation: the first ``per_class`` of each
    class in the permuted order, class after class."""
    order = np.asarray(jax.random.permutation(key, labels.shape[0]))
    return np.concatenate([order[labels[order] == c][:per_class] for c in range(num_classes)])


def test_labelled_subset_is_ten_per_class_and_fixed_by_the_seed():
    labels = np.random.RandomState(0).randint(0, 10, 1000).astype(np.int32)
    key = jax.random.PRNGKey(3)
    picked = np.asarray(ssgan.labelled_indices(key, jnp.asarray(labels), 10))
    assert picked.shape == (100,) and len(set(picked)) == 100
    np.testing.assert_array_equal(labels[picked], np.repeat(np.arange(10), 10))
    np.testing.assert_array_equal(picked, _reference_subset(key, labels, 10, 10))
    again = ssgan.labelled_indices(jax.random.PRNGKey(3), jnp.asarray(labels), 10)
    np.testing.assert_array_equal(picked, np.asarray(again))
    other = ssgan.labelled_indices(jax.random.PRNGKey(4), jnp.asarray(labels), 10)
    assert not np.array_equal(picked, np.asarray(other))


def _index_images(n: int) -> np.ndarray:
    """uint8 [n, 8, 8, 1] whose pixels spell their own index (pixel [0, 0] = i % 256,
    pixel [0, 1] = i // 256), so a drawn image says where it came from."""
    images = np.zeros((n, 8, 8, 1), np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    images[:, 0, 1, 0] = np.arange(n) // 256
    return images


def test_the_labelled_batch_stays_aligned_and_the_subset_is_kept():
    n, classes = 600, 3
    labels = np.random.RandomState(1).randint(0, classes, n).astype(np.int32)
    images = _index_images(n)
    structure = train.Structure("ssgan", (8, 8, 1), disc_bn=False, batch_size=16,
                                num_classes=classes)
    _, extra = semi_supervised.init_optimizer(structure, {"generator": {}, "discriminator": {}})
    assert extra["labelled"].shape == (classes * ssgan.LABELS_PER_CLASS,)
    # what draw reads of a run's state: its root key and extra (no networks needed)
    state = train.RunState(key=jax.random.PRNGKey(5), params={}, batch_stats={}, opt_state={},
                           extra=extra, perm=jnp.zeros((n,), jnp.int32),
                           failed_step=jnp.int32(-1))
    batch = train.Batch(jnp.zeros((16, 8, 8, 1)))
    draw = jax.jit(semi_supervised.draw, static_argnums=0)
    state0, b0 = draw(structure, state, batch, jnp.asarray(images), 1.0, jnp.asarray(labels), 0)
    subset = np.asarray(state0.extra["labelled"])
    expected = semi_supervised.labelled_subset(structure, state.key, jnp.asarray(labels))
    np.testing.assert_array_equal(subset, np.asarray(expected))
    np.testing.assert_array_equal(labels[subset], np.repeat(np.arange(classes), 10))
    for t, s in ((0, state0), (7, state0)):
        s, b = draw(structure, s, batch, jnp.asarray(images), 1.0, jnp.asarray(labels), t)
        x = np.asarray(b.labelled_x).astype(np.int64)
        where = x[:, 0, 0, 0] + 256 * x[:, 0, 1, 0]  # the train index each image came from
        assert set(where) <= set(subset) and len(set(where)) == 16  # without replacement
        np.testing.assert_array_equal(np.asarray(b.labelled_y), labels[where])
        np.testing.assert_array_equal(np.asarray(s.extra["labelled"]), subset)  # kept
    # later steps read the kept subset, not the labels: new labels change nothing after step 0
    _, later = draw(structure, state0, batch, jnp.asarray(images), 1.0,
                    jnp.asarray((labels + 1) % classes), 7)
    np.testing.assert_array_equal(np.asarray(later.labelled_x),
                                  np.asarray(draw(structure, state0, batch, jnp.asarray(images),
                                                  1.0, jnp.asarray(labels), 7)[1].labelled_x))


def test_test_error_counts_each_runs_mistakes():
    """Known answers: a classifier reading the class off the image makes no error; one that
    shifts every class by one misclassifies all; a run's batch of variables is its shift."""
    k, n = 4, 50
    y = np.arange(n) % k
    images = np.broadcast_to(y[:, None, None, None], (n, 2, 2, 1)).astype(np.float32)

    def classify_fn(shift, x):
        return jax.nn.one_hot((x[:, 0, 0, 0].astype(jnp.int32) + shift) % k, k)

    errors = scores.runs_errors(classify_fn, jnp.array([0, 1, 0]), images, y, batch_size=7)
    np.testing.assert_array_equal(errors, [0, n, 0])


class TinyGenerator(nn.Module):
    image_shape: tuple[int, int, int]

    @nn.compact
    def __call__(self, z, train: bool):
        return nn.sigmoid(nn.Dense(int(np.prod(self.image_shape)))(z)).reshape(
            (z.shape[0], *self.image_shape))


class TinyClassifier(nn.Module):
    """A K-class D in the ``ssgan`` architecture's form: lse of the logits, and its heads."""

    num_classes: int

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.relu(nn.Dense(16)(x.reshape((x.shape[0], -1))))
        logits = nn.Dense(self.num_classes)(h)
        return jax.nn.logsumexp(logits, -1), {"class_logits": logits, "features": h}


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
    monkeypatch.setattr(registry, "ARCHITECTURES", dict(registry.registered_architectures()))
    monkeypatch.setitem(data.REGISTRY, "toy_labeled", TOY)

    @registry.register_architecture("tiny_classifier")
    class Tiny(registry.Architecture):
        def generator(self, facts):
            return TinyGenerator(tuple(facts.image_shape))

        def discriminator(self, facts):
            return TinyClassifier(facts.num_classes)


def test_ssgan_trains_through_the_engine_and_writes_its_test_error(toy_registries, tmp_path):
    assert "semi_supervised" in METRICS and models.get("ssgan").family == "semi_supervised"
    out = tmp_path / "ss"
    assert cli.main(["train", "--model", "ssgan", "--dataset", "toy_labeled", "--arch",
                     "tiny_classifier", "--profile", "smoke", "--results-dir", str(out),
                     "--no-progress"]) == 0
    rows = load_rows(out)
    assert list(rows["step"]) == [2, 4] and not rows["failed"].any()
    assert rows["d_loss"].notna().all() and rows["labelled_error"].between(0, 1).all()
    errors = rows["test_errors"].to_numpy()
    assert np.all(errors == np.round(errors)) and np.all((errors >= 0) & (errors <= 32))
    np.testing.assert_allclose(rows["test_error"], errors / 32)
    assert set(rows["seed"]) == {0}  # the seed that chose the labelled subset


def test_ssgan_on_the_triangles_is_one_line(tmp_path, capsys):
    code = cli.main(["train", "--model", "ssgan", "--dataset", "triangles", "--profile",
                     "smoke", "--results-dir", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "ssgan" in err and "labels" in err and "mnist" in err
    assert not (tmp_path / "x").exists()
