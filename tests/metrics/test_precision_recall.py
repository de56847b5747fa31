"""Precision, recall and F1 on the triangles: known-answer tests (docs/protocol.md §8.4)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark.data import triangles
from metrics import precision_recall as prf
from metrics import triangle_manifold
from metrics import triangles as generator
from metrics.inversion import InversionConfig, invert

DELTA = prf.DEFAULT_DELTA


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The real 80k triangle set, generated once into a temporary cache (about 5 s)."""
    return triangles.load_triangles(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def held_out(dataset):
    return dataset.as_float(dataset.validation[:500])


@pytest.fixture(scope="module")
def test_split(dataset):
    return dataset.as_float(dataset.test)


class TinyGenerator(nn.Module):
    """A small MLP generator with the engine's contract: z [B, d] -> images [B, 28, 28, 1]."""

    @nn.compact
    def __call__(self, z):
        h = nn.tanh(nn.Dense(32)(z))
        x = nn.sigmoid(nn.Dense(28 * 28)(h))
        return x.reshape(z.shape[0], 28, 28, 1)


TINY_Z = 8
_tiny = TinyGenerator()


def tiny_apply(variables, z):
    return _tiny.apply(variables, z)


def tiny_variables(seed: int):
    return _tiny.init(jax.random.PRNGKey(seed), jnp.zeros((1, TINY_Z)))


# --- A memorising generator ------------------------------------------------------------------
# The latent's first two coordinates, mapped to [0, 1)^2, pick one of 128 x 64 cells; each cell
# shows one image of S. The output is a sharp softmax mixture (over the 3 nearest cell centres
# per axis) of those images, hence differentiable in z.
CELLS = (128, 64)
SHARPNESS = 5000.0  # in cell units: a neighbour weighs < 5% beyond 3e-4 cell of a border


def memoriser_apply(variables, z):
    images = variables["images"]  # [128 * 64, 784]
    weights, cells = [], []
    for axis, count in enumerate(CELLS):
        u = (z[:, axis] + 1.0) / 2.0 * count  # position in cell units
        centre = jnp.clip(jnp.floor(u), 0, count - 1)
        neighbours = jnp.clip(centre[:, None] + jnp.arange(-1, 2), 0, count - 1)
        logits = -SHARPNESS * (u[:, None] - neighbours - 0.5) ** 2
        weights.append(jax.nn.softmax(logits, axis=1))
        cells.append(neighbours.astype(jnp.int32))
    index = cells[0][:, :, None] * CELLS[1] + cells[1][:, None, :]  # [B, 3, 3]
    w = weights[0][:, :, None] * weights[1][:, None, :]
    out = jnp.einsum("bij,bijp->bp", w, images[index])
    return out.reshape(z.shape[0], 28, 28, 1)


def memoriser_variables(memorised: np.ndarray):
    cells = CELLS[0] * CELLS[1]
    order = np.arange(cells) % memorised.shape[0]
    return {"images": jnp.asarray(memorised.reshape(len(memorised), -1)[order])}


# --- Precision side ---------------------------------------------------------------------------


def test_jax_renderer_matches_data_generator():
    offsets, rotation, _ = generator.draw_parameters(300, seed=11)
    ref = generator.render(offsets, rotation).astype(np.float32) * generator.PIXEL_SCALE
    params = np.concatenate([offsets, rotation[:, None]], axis=1)
    ours = np.asarray(triangle_manifold.render(jnp.asarray(params)))
    # float32 vs float64: a grid point within rounding of an edge may flip (1/64 of a pixel).
    assert np.mean(ours != ref) < 1e-4
    assert np.abs(ours - ref).max() <= 1 / 64


def test_held_out_triangles_are_on_the_manifold(held_out):
    d = triangle_manifold.distance_to_manifold(held_out)
    assert np.mean(d <= DELTA) >= 0.99
    assert np.median(d) < 0.05 * DELTA  # the estimator's error is far below delta


def test_blank_and_noise_are_off_the_manifold():
    rng = np.random.default_rng(0)
    blank_white = np.ones((1, 28, 28, 1), np.float32)
    blank_black = np.zeros((1, 28, 28, 1), np.float32)
    noise = rng.uniform(size=(100, 28, 28, 1)).astype(np.float32)
    d = triangle_manifold.distance_to_manifold(np.concatenate([blank_white, blank_black, noise]))
    assert np.mean(d[:2] <= DELTA) <= 0.01 and np.mean(d[2:] <= DELTA) <= 0.01
    assert d[0] > 4 * DELTA  # the thinnest triangle is ~9.5 from a blank image


def test_pool_estimate_converges_with_pool_size(held_out):
    medians = [
        np.median(
            triangle_manifold.distance_to_manifold(held_out[:200], pool_size=p, search_steps=0)
        )
        for p in (1024, 8192, 65536)
    ]
    assert medians[0] > medians[1] > medians[2]


# --- Inversion --------------------------------------------------------------------------------


def test_inversion_recovers_random_tiny_generator():
    variables = tiny_variables(0)
    z0 = jax.random.uniform(jax.random.PRNGKey(1), (200, TINY_Z), minval=-1, maxval=1)
    x = tiny_apply(variables, z0)
    spread = jnp.sum((x[:100] - x[100:]) ** 2, axis=(1, 2, 3))
    assert float(jnp.median(spread)) > DELTA  # the targets are far apart: a real test
    result = invert(
        tiny_apply, variables, x, z_dim=TINY_Z, prior="uniform", key=jax.random.PRNGKey(2)
    )
    assert np.mean(result.distance <= 0.05 * DELTA) >= 0.99
    assert np.all(result.distance <= result.pool_distance + 1e-3)
    assert np.all(np.abs(result.z) <= 1.0)


def test_inversion_recovers_random_infogan_generator():
    infogan = pytest.importorskip("models.architectures.infogan")
    g = infogan.Generator(image_shape=(28, 28, 1))
    variables = g.init(jax.random.PRNGKey(0), jnp.zeros((2, 64)), train=False)

    def apply_fn(v, z):
        return g.apply(v, z, train=False)

    z0 = jax.random.uniform(jax.random.PRNGKey(3), (200, 64), minval=-1, maxval=1)
    x = apply_fn(variables, z0)
    config = InversionConfig(pool_size=2048, steps=8)
    result = invert(
        apply_fn, variables, x, z_dim=64, prior="uniform", key=jax.random.PRNGKey(4), config=config
    )
    assert np.mean(result.distance <= 0.05 * DELTA) >= 0.99


def test_inversion_normal_prior_stays_in_support():
    variables = tiny_variables(5)
    z0 = jax.random.normal(jax.random.PRNGKey(6), (50, TINY_Z))
    x = tiny_apply(variables, z0)
    result = invert(
        tiny_apply, variables, x, z_dim=TINY_Z, prior="normal", key=jax.random.PRNGKey(7)
    )
    assert np.all(np.abs(result.z) <= 4.0)
    assert np.mean(result.distance <= 0.05 * DELTA) >= 0.98


# --- The memorising generator -----------------------------------------------------------------


def test_memorising_generator(test_split):
    n_s = test_split.shape[0] // 2
    memorised = test_split[:n_s]  # S: a fixed half of the test triangles
    variables = memoriser_variables(memorised)
    key = jax.random.PRNGKey(8)
    n = 400
    samples = memoriser_apply(variables, prf.sample_latents(key, n, 64, "uniform"))
    d_precision = triangle_manifold.distance_to_manifold(np.asarray(samples))
    assert np.mean(d_precision <= DELTA) >= 0.99

    on_s = invert(memoriser_apply, variables, memorised[:n], z_dim=64, prior="uniform", key=key)
    assert np.mean(on_s.distance <= DELTA) >= 0.95

    whole = test_split[::25]  # 400 test triangles, half of them in S
    result = invert(memoriser_apply, variables, whole, z_dim=64, prior="uniform", key=key)
    flat_s = jnp.asarray(memorised.reshape(n_s, -1))
    flat_whole = jnp.asarray(whole.reshape(len(whole), -1))
    _, d_to_s = triangle_manifold.nearest_in_pool(flat_whole, flat_s)
    expected = float(np.mean(np.asarray(d_to_s[:, 0]) <= DELTA))
    assert abs(np.mean(result.distance <= DELTA) - expected) <= 0.05


# --- Definitions, curves, the engine's entry point ------------------------------------------


def test_curves_monotone_and_f1_zero():
    rng = np.random.default_rng(0)
    c = prf.curves(rng.exponential(2.0, 300), rng.exponential(5.0, 300))
    assert np.all(np.diff(c["precision"]) >= 0) and np.all(np.diff(c["recall"]) >= 0)
    assert prf.f1_score(0.0, 0.7) == 0.0 and prf.f1_score(0.4, 0.0) == 0.0
    assert prf.f1_score(0.0, 0.0) == 0.0
    assert np.isclose(prf.f1_score(0.5, 1.0), 2 / 3)
    assert np.isnan(prf.f1_score(np.nan, 0.5))


def test_evaluate_generators_runs_axis_and_failed_run(test_split):
    runs = [tiny_variables(s) for s in range(2)]
    broken = jax.tree_util.tree_map(lambda a: a * np.nan, tiny_variables(2))
    batched = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *runs, broken)
    out = prf.evaluate_generators(
        tiny_apply,
        batched,
        z_dim=TINY_Z,
        prior="uniform",
        test_images=test_split,
        key=jax.random.PRNGKey(0),
        num_samples=50,
        return_curves=True,
    )
    for name in ("precision", "recall", "f1"):
        assert out[name].shape == (3,) and out[name].dtype == np.float64
        assert np.all(np.isnan(out[name][2])) and np.all(np.isfinite(out[name][:2]))
    # A random MLP makes grey blobs, not triangles: nothing is within delta.
    assert np.all(out["precision"][:2] <= 0.01) and np.all(out["f1"][:2] == 0.0)
    assert np.all(np.diff(out["recall_curve"][:2], axis=1) >= 0)
    one = prf.evaluate_generators(
        tiny_apply,
        jax.tree_util.tree_map(lambda a: a[:1], batched),
        z_dim=TINY_Z,
        prior="uniform",
        test_images=test_split,
        key=jax.random.PRNGKey(0),
        num_samples=50,
    )
    assert set(one) == set(prf.SCORES)
    # a grey blob is far from both: the distances say how far, the area is 0
    assert np.all(out["precision_distance"][:2] > 4 * DELTA)
    assert np.all(out["recall_distance"][:2] > 4 * DELTA) and np.all(out["f1_auc"][:2] == 0.0)
    assert np.all(np.isnan(out["f1_auc"][2]))
    np.testing.assert_allclose(one["recall"], out["recall"][:1])


def test_bad_input(test_split):
    batched = jax.tree_util.tree_map(lambda a: a[None], tiny_variables(0))
    kwargs = dict(z_dim=TINY_Z, prior="uniform", key=jax.random.PRNGKey(0), num_samples=10)
    with pytest.raises(ValueError, match="shape"):
        prf.evaluate_generators(tiny_apply, batched, test_images=test_split[:, :27], **kwargs)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prf.evaluate_generators(tiny_apply, batched, test_images=test_split * 255, **kwargs)
    with pytest.raises(ValueError, match="num_samples"):
        prf.evaluate_generators(
            tiny_apply, batched, test_images=test_split[:5], **{**kwargs, "num_samples": 10}
        )

    def rgb_apply(variables, z):
        return jnp.zeros((z.shape[0], 32, 32, 3))

    with pytest.raises(ValueError, match="28x28x1"):
        prf.evaluate_generators(rgb_apply, batched, test_images=test_split, **kwargs)
    with pytest.raises(ValueError, match="precision_samples=0 must be >= 1") as err:
        prf.evaluate_generators(
            tiny_apply, batched, test_images=test_split, **{**kwargs, "precision_samples": 0}
        )
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="prior"):
        prf.evaluate_generators(
            tiny_apply, batched, test_images=test_split, **{**kwargs, "prior": "cauchy"}
        )


# --- Scores before samples cross delta: median distances and the area under F1 -------------


def test_f1_auc_known_answers():
    zeros, far = np.zeros(100), np.full(100, 100.0)
    assert prf.f1_auc(zeros, zeros) == 1.0
    assert prf.f1_auc(far, zeros) == 0.0 and prf.f1_auc(zeros, far) == 0.0
    # every distance 1 = 2^0: F1 is 0 up to 2^-0.5 and 1 from 2^0 on, over log2 delta in
    # [-3, 3]: (half a step of 1/2 rising + 3 octaves at 1) / 6 octaves
    ones = np.ones(100)
    assert np.isclose(prf.f1_auc(ones, ones), (0.25 + 3.0) / 6.0)
    assert prf.AUC_DELTAS[0] == 0.125 and prf.AUC_DELTAS[-1] == 8.0
    s = prf.scores(np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 7.0, 8.0]))
    assert s["precision_distance"] == 1.0 and s["recall_distance"] == 6.5
    assert np.isclose(s["precision"], 2 / 3) and s["recall"] == 0.0 and s["f1"] == 0.0


def _scores_of(apply_fn, variables, test_split, n=200):
    batched = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], variables)
    out = prf.evaluate_generators(apply_fn, batched, z_dim=64, prior="uniform",
                                  test_images=test_split, key=jax.random.PRNGKey(0),
                                  num_samples=n)
    return {k: float(v[0]) for k, v in out.items()}


def test_distances_and_area_of_a_perfect_generator(test_split):
    # A memoriser of the very N test triangles that recall inverts: samples are triangles and
    # every test triangle is in G's range, so both medians are the estimator's error (~0).
    n = 200
    out = _scores_of(memoriser_apply, memoriser_variables(test_split[:n]), test_split, n)
    assert out["precision_distance"] < 0.05 and out["recall_distance"] < 0.05
    assert out["f1"] >= 0.99 and out["f1_auc"] >= 0.95


def test_distances_and_area_of_a_blank_generator(test_split):
    def blank_apply(variables, z):
        return jnp.ones((z.shape[0], 28, 28, 1)) + 0.0 * z[:, :1, None, None]

    n = 200
    out = _scores_of(blank_apply, {"unused": jnp.zeros(1)}, test_split, n)
    # a blank image is 9.5 from the manifold (the thinnest triangle; docs/fidelity.md, delta)
    assert 9.0 <= out["precision_distance"] <= 10.0
    ink = np.sum((1.0 - test_split[:n]) ** 2, axis=(1, 2, 3))  # each test triangle's distance
    assert np.isclose(out["recall_distance"], np.median(ink), rtol=1e-4)
    assert out["precision"] == 0.0 and out["f1"] == 0.0 and out["f1_auc"] == 0.0


# --- Precision on more samples than recall inverts (precision_samples) ----------------------


def test_precision_is_scored_on_precision_samples(test_split):
    # G draws a triangle where the latent's third coordinate is positive and a blank image (9.5
    # from the manifold) elsewhere, so precision is the fraction of the evaluation's latents
    # with z[2] > 0, known from the latents themselves: 300 of them here, while recall inverts
    # only the first 50 test triangles.
    def half_blank_apply(variables, z):
        return jnp.where(z[:, 2, None, None, None] > 0, memoriser_apply(variables, z), 1.0)

    from metrics.base import EvalContext, Generators
    from metrics.columns import PrecisionRecallSettings
    from metrics.registry import METRICS

    variables = memoriser_variables(test_split[:50])
    settings = PrecisionRecallSettings(samples=50, precision_samples=300)
    context = EvalContext("triangles", images=lambda split: test_split, seed=3,
                          settings=settings)
    batched = jax.tree_util.tree_map(lambda a: a[None], variables)
    out = METRICS["precision_recall"].evaluate(
        Generators(half_blank_apply, batched, z_dim=64, prior="uniform"), context)
    sample_key = jax.random.split(jax.random.PRNGKey(context.seed + 1))[0]
    z = prf.sample_latents(sample_key, 300, 64, "uniform")
    expected = float(np.mean(np.asarray(z[:, 2]) > 0))
    assert 0.3 < expected < 0.7  # both kinds of samples are there
    assert abs(out["precision"][0] - expected) <= 1 / 300  # every triangle within delta
    # the test triangles are the memorised ones: G reproduces those where it can draw them
    assert out["recall"][0] >= 0.3

    distances = prf.generator_distances(
        half_blank_apply, variables, z_dim=64, prior="uniform", test_images=test_split,
        key=jax.random.PRNGKey(context.seed + 1), num_samples=50, precision_samples=300)
    assert distances.precision.shape == (300,) and distances.recall.shape == (50,)
    assert np.isclose(np.mean(distances.precision <= DELTA), out["precision"][0])
    assert prf.scores(distances.precision, distances.recall)["precision"] == out["precision"][0]


def test_precision_samples_default_to_samples_and_cost_their_share():
    from metrics.columns import PrecisionRecallSettings
    from metrics.registry import METRICS

    seconds = METRICS["precision_recall"].seconds
    same = PrecisionRecallSettings(samples=200)
    assert same.precision_samples is None
    assert seconds(PrecisionRecallSettings(samples=200, precision_samples=200)) == seconds(same)
    more = seconds(PrecisionRecallSettings(samples=200, precision_samples=1000)) - seconds(same)
    assert np.isclose(more, 800 * 0.0022)  # precision only: no inversion beyond 200 triangles


# --- Improved precision and recall --------------------------------------------------------------


def _brute_improved(real, fake, k):
    def radii(x):
        d = ((x[:, None] - x[None]) ** 2).sum(-1)
        return np.sort(d, axis=1)[:, k]

    def coverage(q, s, r):
        d = ((q[:, None] - s[None]) ** 2).sum(-1)
        return np.mean(np.any(d <= r[None], axis=1))

    return coverage(fake, real, radii(real)), coverage(real, fake, radii(fake))


def test_improved_precision_recall():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 5)).astype(np.float32)
    fake = (rng.normal(size=(250, 5)) * 1.5 + 0.5).astype(np.float32)
    out = prf.improved_precision_recall(real, fake, k=3, chunk=64)
    p, r = _brute_improved(real, fake, 3)
    assert np.isclose(out["precision"], p) and np.isclose(out["recall"], r)
    same = prf.improved_precision_recall(real, real)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    far = prf.improved_precision_recall(real, fake + 100.0)
    assert far["precision"] == 0.0 and far["recall"] == 0.0 and far["f1"] == 0.0


def test_improved_precision_recall_on_triangles(held_out, test_split):
    # Pixels as features: two samples of the same generator overlap; noise images do not.
    same = prf.improved_precision_recall(test_split[:500], held_out[:500])
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    noise = np.random.default_rng(0).uniform(size=(50, 28, 28, 1))
    off = prf.improved_precision_recall(test_split[:500], noise)
    assert off["precision"] == 0.0 and off["recall"] == 0.0
