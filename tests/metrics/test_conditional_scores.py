"""Known answers of the conditional-model scores (docs/protocol.md §12.7): class accuracy,
code accuracy with Hungarian matching, intra-FID, and the semi-supervised test error."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metrics import conditional, lenet, semi_supervised

K = 10


def toy_digits(n: int, seed: int, flip: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """28x28x1 images in [0, 1] whose class c is a bright 4x8 bar at row band c, plus noise;
    a fraction ``flip`` carries another class's bar (so no classifier is perfect on them)."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, K, n).astype(np.int32)
    drawn = np.where(rng.rand(n) < flip, (labels + 1 + rng.randint(0, K - 1, n)) % K, labels)
    images = rng.uniform(0.0, 0.2, (n, 28, 28, 1)).astype(np.float32)
    for i, c in enumerate(drawn):
        row, col = 2 + 2 * (c % 5) * 2, 4 if c < 5 else 16
        images[i, row : row + 4, col : col + 8, 0] = 1.0
    return images, labels


def bar_of(images: np.ndarray) -> np.ndarray:
    """A classifier of toy digits: the class whose bar region is brightest."""
    x = np.asarray(images)[..., 0]
    scores = [x[:, 2 + 4 * (c % 5) : 6 + 4 * (c % 5), (4 if c < 5 else 16) :][:, :, :8].mean((1, 2))
              for c in range(K)]
    return np.argmax(np.stack(scores, 1), axis=1).astype(np.int32)


@pytest.fixture(scope="module")
def classifier():
    """A fixed classifier of toy digits and a labelled test set it gets 80% right."""
    test_x, test_y = toy_digits(2000, 1, flip=0.2)
    return bar_of, test_x, test_y


def test_lenet_predict_is_the_argmax_of_its_logits():
    params = lenet.LeNet().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    x, _ = toy_digits(30, 3)
    expected = np.argmax(np.asarray(lenet.LeNet().apply(params, jnp.asarray(x))[1]), axis=1)
    np.testing.assert_array_equal(conditional.lenet_predict(params, x, batch_size=8), expected)


def real_images_generator(images, labels):
    """A "generator" that returns a random real image of each class asked for."""
    by_class = [np.flatnonzero(labels == c) for c in range(K)]

    def sample(key, classes):
        rng = np.random.RandomState(int(jax.random.randint(key, (), 0, 2**30)))
        picks = [by_class[c][rng.randint(len(by_class[c]))] for c in np.asarray(classes)]
        return jnp.asarray(images[picks])

    return sample


def test_real_images_of_class_y_score_the_classifiers_accuracy(classifier):
    predict, x, y = classifier
    own = float(np.mean(predict(x) == y))
    assert 0.7 < own < 0.9  # 20% of the test images carry another class's bar
    images, conditions = conditional.samples_per_class(
        real_images_generator(x, y), jax.random.key(0), K, 400)
    acc = conditional.class_accuracy(predict(images), conditions)
    assert abs(acc - own) < 0.03


def test_a_generator_ignoring_y_scores_chance(classifier):
    predict, _, _ = classifier
    clean_x, _ = toy_digits(4000, 2)

    def ignore_y(key, classes):
        start = int(jax.random.randint(key, (), 0, 2000))
        return jnp.asarray(clean_x[start : start + classes.shape[0]])

    images, conditions = conditional.samples_per_class(ignore_y, jax.random.key(1), K, 200,
                                                       batch_size=200)
    acc = conditional.class_accuracy(predict(images), conditions)
    assert abs(acc - 0.1) < 0.04


def test_code_accuracy_after_hungarian_matching():
    rng = np.random.RandomState(0)
    classes = rng.randint(0, K, 5000)
    permutation = rng.permutation(K)
    codes = np.argsort(permutation)[classes]  # code k always shows class permutation[k]
    acc, mapping = conditional.code_accuracy(codes, classes, K)
    assert acc == 1.0
    np.testing.assert_array_equal(mapping, permutation)
    random_acc, _ = conditional.code_accuracy(rng.randint(0, K, 5000), classes, K)
    assert abs(random_acc - 0.1) < 0.03
    # Half the samples of each code show its class: matching finds it, accuracy ~ 0.5 + 0.05.
    noisy = np.where(rng.rand(5000) < 0.5, classes, rng.randint(0, K, 5000))
    half, mapping = conditional.code_accuracy(codes, noisy, K)
    np.testing.assert_array_equal(mapping, permutation)
    assert abs(half - 0.55) < 0.03


def test_per_class_accuracy_and_bad_input():
    predicted = np.array([0, 0, 1, 2, 2, 2])
    conditions = np.array([0, 1, 1, 2, 2, 0])
    np.testing.assert_allclose(conditional.per_class_accuracy(predicted, conditions, 4),
                               [0.5, 0.5, 1.0, np.nan])
    assert conditional.class_accuracy(predicted, conditions) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="equal non-empty"):
        conditional.class_accuracy(predicted[:3], conditions)


def test_intra_fid_is_small_for_the_same_distribution_and_large_for_swapped_classes():
    rng = np.random.RandomState(0)
    means = rng.normal(0, 3, (K, 4))
    labels = np.repeat(np.arange(K), 500)
    real = means[labels] + rng.normal(size=(labels.size, 4))
    fake = means[labels] + rng.normal(size=(labels.size, 4))
    same = conditional.intra_fid(fake, labels, real, labels, K)
    swapped = conditional.intra_fid(fake, (labels + 1) % K, real, labels, K)
    assert np.all(same < 0.1)
    assert np.all(swapped > 1.0)


def test_semi_supervised_error_counts_mistakes():
    labels = np.arange(20) % K
    logits = jax.nn.one_hot(labels, K) * 5.0
    logits = logits.at[:3].set(jax.nn.one_hot((labels[:3] + 1) % K, K))
    errors, rate = semi_supervised.classifier_error(lambda x: x, np.asarray(logits), labels,
                                                    batch_size=7)
    assert errors == 3 and rate == pytest.approx(0.15)
