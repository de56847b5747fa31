"""The Flax FID Inception, its weights reader and its preprocessing against pytorch-fid.

The weights are random (the published file cannot be fetched in CI), saved by torch in the
``.pth`` format under the published name, read by our restricted unpickler and by
pytorch-fid's own loader; pool_3 and logits must agree within 1e-4 relative.
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark.errors import UserError
from benchmark.evaluation import fid_features
from metrics import inception, inception_weights, preprocess
from tests.evaluation import fid_helpers

PARITY = 1e-4


# --------------------------------------------------------------------------- preprocessing


def _tf1_resize_reference(image: np.ndarray, out: int) -> np.ndarray:
    """tf.image.resize_bilinear(align_corners=False, half_pixel_centers=False), by loops."""
    h, w, c = image.shape
    result = np.zeros((out, out, c), np.float64)
    for i in range(out):
        y = i * h / out
        y0 = int(np.floor(y))
        y1, dy = min(y0 + 1, h - 1), y - y0
        for j in range(out):
            x = j * w / out
            x0 = int(np.floor(x))
            x1, dx = min(x0 + 1, w - 1), x - x0
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * dx
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * dx
            result[i, j] = top + (bottom - top) * dy
    return result


def test_tf1_resize_known_values():
    # 2 -> 4 with source = i * in/out = 0, .5, 1, 1.5: the last sample repeats the edge.
    m = preprocess.resize_matrix(2, 4, "compare_gan")
    np.testing.assert_allclose(m @ np.array([10.0, 20.0]), [10, 15, 20, 20])
    # PyTorch, half-pixel centres: source = -.25 (clamped to 0), .25, .75, 1.25.
    m = preprocess.resize_matrix(2, 4, "pytorch_fid")
    np.testing.assert_allclose(m @ np.array([10.0, 20.0]), [10, 12.5, 17.5, 20])


def test_compare_gan_preprocessing_matches_tf1_formula():
    rng = np.random.default_rng(1)
    image = rng.random((28, 28, 1)).astype(np.float32)
    got = np.asarray(preprocess.preprocess(jnp.asarray(image[None]), "compare_gan"))[0]
    want = (_tf1_resize_reference(image.astype(np.float64) * 255, 299) - 128) / 128
    assert got.shape == (299, 299, 3)
    np.testing.assert_allclose(got, np.repeat(want, 3, axis=-1), atol=2e-5)
    odd = rng.random((5, 7, 3)).astype(np.float32)
    got = np.asarray(preprocess.preprocess(jnp.asarray(odd[None]), "compare_gan", size=11))[0]
    want = (_tf1_resize_reference(odd.astype(np.float64) * 255, 11) - 128) / 128
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_pytorch_preprocessing_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    image = rng.random((2, 32, 24, 3)).astype(np.float32)
    got = np.asarray(preprocess.preprocess(jnp.asarray(image), "pytorch_fid"))
    x = torch.nn.functional.interpolate(
        torch.from_numpy(image.transpose(0, 3, 1, 2).copy()),
        size=(299, 299),
        mode="bilinear",
        align_corners=False,
    )
    want = (2 * x - 1).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_preprocessing_rejects_bad_images():
    with pytest.raises(ValueError, match="shape"):
        preprocess.to_unit_float(np.zeros((4, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"range over \[-1, 1\]"):
        preprocess.to_unit_float(np.linspace(-1, 1, 2 * 28 * 28).reshape(2, 28, 28, 1))
    with pytest.raises(ValueError, match="NaN"):
        preprocess.to_unit_float(np.full((2, 4, 4, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="unknown preprocessing"):
        preprocess.resize_matrix(4, 8, "antialias")
    assert preprocess.to_unit_float(np.full((1, 2, 2, 1), 255, np.uint8)).max() == 1.0


# --------------------------------------------------------------------------- weights file


def test_state_dict_reader_zip_and_legacy_formats(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    state = dict(net.state_dict())
    state["transposed"] = torch.randn(5, 6).t()  # non-contiguous: strides must be honoured
    state["offset"] = torch.arange(10.0, dtype=torch.float64)[3:7]
    for legacy in (False, True):
        path = tmp_path / f"w{legacy}.pth"
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        got = inception_weights.read_state_dict(path)
        assert set(got) == set(state)
        for key, value in state.items():
            np.testing.assert_array_equal(got[key], value.numpy())
            assert got[key].dtype == value.numpy().dtype


def test_reader_refuses_pickled_code(tmp_path):
    torch = pytest.importorskip("torch")

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pth"
    torch.save({"w": Payload()}, path)
    with pytest.raises(ValueError, match="refusing to unpickle"):
        inception_weights.read_state_dict(path)


def test_weights_checksum_missing_file_and_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path / "cache"))
    bogus = tmp_path / inception_weights.WEIGHTS_FILENAME
    bogus.write_bytes(b"not the weights")
    with pytest.raises(UserError, match="expected 6726825d0af5f729"):
        fid_features.load_state_dict(bogus)
    with pytest.raises(UserError, match="not found at .*GAN_BENCHMARK_INCEPTION_WEIGHTS"):
        monkeypatch.setenv(inception_weights.WEIGHTS_ENV, str(tmp_path / "absent.pth"))
        fid_features.load_state_dict()
    monkeypatch.delenv(inception_weights.WEIGHTS_ENV)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(fid_features.urllib.request, "urlopen", offline)
    with pytest.raises(UserError) as info:
        fid_features.load_state_dict()
    message = str(info.value)
    assert "\n" not in message
    for needle in (inception_weights.WEIGHTS_FILENAME, inception_weights.WEIGHTS_URL,
                   inception_weights.WEIGHTS_ENV):  # fmt: skip
        assert needle in message
    assert not list((tmp_path / "cache" / "inception").glob("*.part"))


# --------------------------------------------------------------------------- network parity


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    pytest.importorskip("pytorch_fid")
    directory = tmp_path_factory.mktemp("torch_home")
    path = fid_helpers.save_random_fid_inception(directory, seed=0)
    reference = fid_helpers.PytorchFid(directory)
    state, digest = fid_features.load_state_dict(path, expected_sha256=None, cache=False)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    variables = inception.params_from_state_dict(state)
    inception.check_params(variables)
    return path, reference, variables


_apply = jax.jit(inception.apply)


def _ours(variables, images: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = preprocess.preprocess(jnp.asarray(images), mode)
    pool, logits = _apply(variables, x)
    return np.asarray(pool), np.asarray(logits), np.asarray(x)


def _assert_parity(variables, reference, images: np.ndarray) -> None:
    # pytorch-fid's own path: its resize and 2x - 1, end to end.
    pool, logits, _ = _ours(variables, images, "pytorch_fid")
    want_pool, want_logits = reference(images, resize=True)
    assert pool.shape == (images.shape[0], 2048) and logits.shape == (images.shape[0], 1008)
    assert fid_helpers.relative_error(pool, want_pool) < PARITY
    assert fid_helpers.relative_error(logits, want_logits) < PARITY
    # compare_gan's TF1 resize: the same 299x299 inputs through both networks.
    pool, logits, x = _ours(variables, images, "compare_gan")
    want_pool, want_logits = reference(x, resize=False)
    assert fid_helpers.relative_error(pool, want_pool) < PARITY
    assert fid_helpers.relative_error(logits, want_logits) < PARITY
    assert np.std(want_pool) > 1e-3  # the comparison is not between constants


def test_parity_with_pytorch_fid_on_random_images(random_weights):
    _, reference, variables = random_weights
    images = np.random.default_rng(3).random((2, 32, 32, 3)).astype(np.float32)
    _assert_parity(variables, reference, images)


def test_parity_with_pytorch_fid_on_mnist(random_weights):
    if not (fid_helpers.MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST files not found in {fid_helpers.MNIST_DIR}")
    from benchmark import data

    try:
        mnist = data.load("mnist", data_dir=fid_helpers.MNIST_DIR)
    except (UserError, ImportError) as exc:
        pytest.skip(f"MNIST loader unavailable: {exc}")
    _, reference, variables = random_weights
    _assert_parity(variables, reference, mnist.as_float(np.asarray(mnist.test[:2])))


def test_legacy_format_full_network_reads_identically(random_weights, tmp_path):
    torch = pytest.importorskip("torch")
    path, _, variables = random_weights
    legacy = tmp_path / "legacy.pth"
    torch.save(torch.load(path, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    state, _ = fid_features.load_state_dict(legacy, expected_sha256=None, cache=False)
    again = inception.params_from_state_dict(state)
    jax.tree.map(np.testing.assert_array_equal, again, variables)


def test_wrong_architecture_is_refused():
    with pytest.raises(ValueError, match="not an Inception-v3 state dict"):
        inception.params_from_state_dict({"w": np.zeros(3)})
    bad = {"params": {"fc": {"kernel": np.zeros((3, 3)), "bias": np.zeros(3)}}}
    with pytest.raises(ValueError, match="do not match"):
        inception.check_params(bad)


def test_generator_fid_end_to_end_with_inception(random_weights, tmp_path, monkeypatch):
    from metrics import fid

    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))
    path, reference_net, _ = random_weights
    extractor = fid_features.inception_extractor(str(path), expected_sha256=None)
    assert list((tmp_path / "inception").glob("*.npz"))  # converted once, cached
    real = np.random.default_rng(5).random((4, 16, 16, 1)).astype(np.float32)
    reference = fid.reference_statistics("toy", real, extractor=extractor, batch_size=4)
    runs = {"shift": jnp.array([0.0, 0.3])}
    gen = lambda v, z: jax.nn.sigmoid(z.reshape(-1, 16, 16, 1) + v["shift"])
    eval_z = jax.random.normal(jax.random.key(0), (4, 256))
    out = fid.evaluate_generators(gen, runs, eval_z, reference, extractor=extractor, batch_size=8)
    # the same numbers from pytorch-fid's features of the same compare_gan inputs
    from metrics import preprocess as pp

    for r in range(2):
        images = gen(jax.tree.map(lambda a, r=r: a[r], runs), eval_z)
        feats, logits = reference_net(np.asarray(pp.preprocess(images)), resize=False)
        assert out["inception_score"][r] == pytest.approx(fid.inception_score(logits), rel=1e-4)
    stats = fid.feature_statistics(feats)
    want = fid.frechet_distance(
        reference.mu, reference.sigma, stats.mu, stats.sigma, reference.sqrt_sigma
    )
    assert out["fid"][1] == pytest.approx(want, rel=1e-3)
    assert out["fid"][1] != out["fid"][0]
