"""The labels contract (docs/protocol.md §5.6): what each data set offers, labels aligned with
their images under every subset or permutation, and the one-line refusal of a model whose
needs a data set does not meet."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark import data
from benchmark.data import ImageDataset
from benchmark.errors import UserError


def _labelled(n_train: int = 12, n_test: int = 5) -> ImageDataset:
    """Images whose every pixel is 10 * their label + index % 10, so each image names its label."""
    rng = np.random.default_rng(0)

    def split(n):
        labels = rng.integers(0, 10, n)
        pixel = 10 * labels + np.arange(n) % 10
        return np.broadcast_to(pixel[:, None, None, None], (n, 4, 4, 1)).astype(np.uint8), labels

    (train, train_labels), (test, test_labels) = split(n_train), split(n_test)
    return ImageDataset("toy", train, test, train_labels=train_labels.astype(np.uint8),
                        test_labels=test_labels, num_classes=10)


def _label_of(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0, 0].astype(np.int32) // 10


def test_labels_are_int32_and_aligned():
    ds = _labelled()
    for split in ("train", "test"):
        labels = ds.labels(split)
        assert labels.dtype == np.int32  # uint8 given, int32 kept
        np.testing.assert_array_equal(labels, _label_of(ds.split(split)))
    with pytest.raises(ValueError, match="has no 'validation' split"):
        ds.labels("validation")
    assert ds.has_labels
    assert not ImageDataset("t", ds.train, ds.test).has_labels


def test_take_keeps_a_permutation_and_a_subset_aligned():
    ds = _labelled(40)
    permutation = np.random.default_rng(1).permutation(40)
    for index in (permutation, permutation[:7], slice(3, 9), np.arange(40) % 2 == 0):
        images, labels = ds.take("train", index)
        assert labels.dtype == np.int32 and len(labels) == len(images)
        np.testing.assert_array_equal(labels, _label_of(images))
    images, labels = ImageDataset("t", ds.train, ds.test).take("test", [0, 2])
    assert labels is None and images.shape == (2, 4, 4, 1)


def test_head_cuts_images_and_labels_together():
    small = _labelled(12, 5).head(3)
    assert small.train.shape[0] == small.test.shape[0] == 3
    for split in ("train", "test"):
        np.testing.assert_array_equal(small.labels(split), _label_of(small.split(split)))
    assert small.num_classes == 10


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train_labels": np.zeros(3, np.int32)}, r"toy/train: \(3,\) labels for 4 images"),
    ({"train_labels": np.zeros((4, 1), np.int32)}, r"\(4, 1\) labels for 4 images"),
    ({"test_labels": np.array([0, 1, 10])}, "labels span 0..10, outside 0..9"),
    ({"test_labels": np.array([-1, 1, 2])}, "labels span -1..2"),
    ({"train_labels": np.zeros(4)}, "labels must be integers, got float64"),
    ({"validation_labels": np.zeros(2, np.int32)}, "labels given for a split without images"),
])
def test_misaligned_labels_are_refused(kwargs, message):
    images = np.zeros((4, 2, 2, 1), np.uint8)
    with pytest.raises(ValueError, match=message):
        ImageDataset("toy", images, images[:3], num_classes=10, **kwargs)


def test_a_list_of_labels_becomes_an_int32_array():
    images = np.zeros((3, 2, 2, 1), np.uint8)
    ds = ImageDataset("toy", images, images, test_labels=[2, 0, 1], num_classes=3)
    assert ds.labels("test").dtype == np.int32 and ds.labels("test").tolist() == [2, 0, 1]


def test_labels_need_num_classes():
    images = np.zeros((2, 2, 2, 1), np.uint8)
    with pytest.raises(ValueError, match="labels given without num_classes"):
        ImageDataset("toy", images, images, train_labels=np.zeros(2, np.int32))


def test_what_each_data_set_offers():
    labelled = {"mnist", "fashion_mnist", "cifar10"}
    for name, spec in data.REGISTRY.items():
        if name in labelled:
            assert spec.offers == {"images", "labels"} and spec.num_classes == 10
        elif name == "oracle":  # SeqGAN's oracle: token sequences, no images
            assert spec.offers == {"sequences"} and spec.num_classes is None
        else:  # CelebA's 40 attributes are not classes; the triangles have none
            assert spec.offers == {"images"} and spec.num_classes is None
    assert data.offering({"images", "labels"}) == ["mnist", "fashion_mnist", "cifar10"]
    assert data.offering({"images"}) == [n for n in data.REGISTRY if n != "oracle"]
    assert data.offering({"sequences"}) == ["oracle"]


def test_a_conditional_model_on_the_triangles_is_one_line():
    data.require("cifar10", {"images", "labels"}, "model cgan")  # offered: no error
    with pytest.raises(UserError) as err:
        data.require("triangles", {"images", "labels"}, "model cgan")
    message = str(err.value)
    assert message == ("model cgan needs labels, which triangles does not offer; "
                       "choose one of: mnist, fashion_mnist, cifar10")
