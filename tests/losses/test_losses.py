"""Every loss against its closed form (docs/protocol.md §2; numpy, float64), penalties on
discriminators with known input gradients, BEGAN's k, the VAE's ELBO, WGAN clipping in a real step,
the registry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.traverse_util import flatten_dict

import models
from benchmark import training as train
from losses import began, lsgan, mm_gan, ns_gan, vae
from losses.base import Outputs
from losses.penalties import dragan_penalty, dragan_perturb, wgan_gp_penalty
from tests.conftest import AUTHOR_DEFAULTS

# Hand-made logits, including saturated ones where a naive log(sigmoid) would overflow.
D_REAL = np.array([-40.0, -3.0, -0.5, 0.0, 0.7, 2.0, 9.0, 40.0])
D_FAKE = np.array([-35.0, -2.0, -0.1, 0.0, 0.3, 1.5, 6.0, 30.0])
HP: dict = {}
EXTRA: dict = {}


def objective(name, options=None):
    """The registered model's objective (losses/), with its static options."""
    return models.get(name, options).objective


def log_sigmoid(x):
    """log sigma(x), stable in float64."""
    return -np.logaddexp(0.0, -x)


def log_one_minus_sigmoid(x):
    """log(1 - sigma(x)) = log sigma(-x)."""
    return -np.logaddexp(0.0, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def close(ours, ref, rtol=1e-6):
    np.testing.assert_allclose(float(ours), float(ref), rtol=rtol, atol=1e-6)


def f32(x):
    return jnp.asarray(x, jnp.float32)


# --- closed forms (docs/protocol.md §2) ------------------------------------------------------


def test_ns_gan_losses():
    d_ref = -np.mean(log_sigmoid(D_REAL)) - np.mean(log_one_minus_sigmoid(D_FAKE))
    g_ref = -np.mean(log_sigmoid(D_FAKE))
    close(ns_gan.discriminator_loss(Outputs(f32(D_REAL), f32(D_FAKE)), HP, EXTRA), d_ref)
    close(ns_gan.generator_loss(Outputs(None, f32(D_FAKE)), HP, EXTRA), g_ref)


def test_mm_gan_losses():
    loss = objective("mm_gan")
    d_ref = -np.mean(log_sigmoid(D_REAL)) - np.mean(log_one_minus_sigmoid(D_FAKE))
    g_ref = np.mean(log_one_minus_sigmoid(D_FAKE))  # G minimises E log(1 - sigma(D(G(z))))
    close(loss.discriminator_loss(Outputs(f32(D_REAL), f32(D_FAKE)), HP, EXTRA), d_ref)
    close(loss.generator_loss(Outputs(None, f32(D_FAKE)), HP, EXTRA), g_ref)
    close(mm_gan.generator_loss(Outputs(None, f32(D_FAKE)), HP, EXTRA), g_ref)


def test_lsgan_losses_square_the_sigmoid_output():
    d_ref = 0.5 * (np.mean((sigmoid(D_REAL) - 1) ** 2) + np.mean(sigmoid(D_FAKE) ** 2))
    g_ref = 0.5 * np.mean((sigmoid(D_FAKE) - 1) ** 2)
    close(lsgan.discriminator_loss(Outputs(f32(D_REAL), f32(D_FAKE)), HP, EXTRA), d_ref)
    close(lsgan.generator_loss(Outputs(None, f32(D_FAKE)), HP, EXTRA), g_ref)


@pytest.mark.parametrize("name", ["wgan", "wgan_gp"])
def test_wasserstein_losses(name):
    loss = objective(name)
    close(loss.discriminator_loss(Outputs(f32(D_REAL), f32(D_FAKE)), HP, EXTRA),
          -np.mean(D_REAL) + np.mean(D_FAKE))
    close(loss.generator_loss(Outputs(None, f32(D_FAKE)), HP, EXTRA), -np.mean(D_FAKE))


def test_dragan_uses_the_ns_gan_losses():
    loss = objective("dragan")
    close(loss.discriminator_loss(Outputs(f32(D_REAL), f32(D_FAKE)), HP, EXTRA),
          -np.mean(log_sigmoid(D_REAL)) - np.mean(log_one_minus_sigmoid(D_FAKE)))
    close(loss.generator_loss(Outputs(None, f32(D_FAKE)), HP, EXTRA),
          -np.mean(log_sigmoid(D_FAKE)))


def test_began_losses():
    l_real = np.array([0.11, 0.2, 0.05, 0.3])  # per-example L1 reconstruction errors
    l_fake = np.array([0.4, 0.25, 0.33, 0.1])
    extra = {"k": f32(0.37)}
    close(began.discriminator_loss(Outputs(f32(l_real), f32(l_fake)), HP, extra),
          np.mean(l_real) - 0.37 * np.mean(l_fake))
    close(began.generator_loss(Outputs(None, f32(l_fake)), HP, extra), np.mean(l_fake))


def test_began_discriminator_output_is_the_l1_reconstruction_error():
    d = models.get("began")
    assert d.arch == "began"
    structure = train.Structure("began", (8, 8, 2), disc_bn=False)
    module = train.family(structure).discriminator(structure)
    x = jax.random.uniform(jax.random.PRNGKey(0), (3, 8, 8, 2))
    rng = np.random.default_rng(4)  # random weights without compiling the initialisers
    variables = jax.tree.map(lambda s: jnp.asarray(rng.normal(0.0, 0.3, s.shape), s.dtype),
                             jax.eval_shape(module.init, jax.random.PRNGKey(1), x, train=True))

    @jax.jit
    def errors_and_reconstruction(variables, x):
        errors, state = module.apply(variables, x, train=True, capture_intermediates=True,
                                     mutable=["intermediates"])
        return errors, state["intermediates"]["autoencoder"]["__call__"][0]

    errors, recon = errors_and_reconstruction(variables, x)
    recon = np.asarray(recon, np.float64)
    assert recon.min() >= 0 and recon.max() <= 1
    np.testing.assert_allclose(errors, np.abs(recon - np.asarray(x)).mean(axis=(1, 2, 3)),
                               rtol=1e-5)


# --- BEGAN's k and convergence measure -------------------------------------------------------


BEGAN_STEPS = [  # (L(x) per example, L(G(z)) per example) for a few steps
    ([0.30, 0.10], [0.05, 0.07]),
    ([0.20, 0.20], [0.01, 0.03]),
    ([0.10, 0.12], [0.40, 0.50]),
    ([0.05, 0.05], [0.60, 0.90]),
    ([0.40, 0.30], [0.02, 0.02]),
]


def _k_loop(lambda_k, gamma, clip):
    """docs/protocol.md §2.6: k <- k + lambda_k (gamma L(x) - L(G(z))), from k = 0; clipped to
    [0, 1] only under the BEGAN paper's option."""
    k, ks, ms = 0.0, [], []
    for l_real, l_fake in BEGAN_STEPS:
        lx, lg = np.mean(l_real), np.mean(l_fake)
        ms.append(lx + abs(gamma * lx - lg))
        ks.append(k)
        k = k + lambda_k * (gamma * lx - lg)
        if clip:
            k = min(max(k, 0.0), 1.0)
    return ks + [k], ms


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("lambda_k", [1e-3, 3.0])  # 3.0 drives k below 0 and above 1
def test_began_k_sequence_and_convergence_measure(clip, lambda_k):
    loss = objective("began", {"clip_k": "yes"} if clip else None)
    hp = {"lambda_k": f32(lambda_k), "gamma": f32(0.75)}
    extra = loss.init_extra()
    assert float(extra["k"]) == 0.0
    ks, ms = [float(extra["k"])], []
    for l_real, l_fake in BEGAN_STEPS:
        metrics = loss.log_metrics(extra, Outputs(f32(l_real), f32(l_fake)), hp)
        assert float(metrics["k"]) == ks[-1]  # the k this step used
        ms.append(float(metrics["convergence"]))
        extra = loss.update_extra(extra, Outputs(f32(l_real), f32(l_fake)), hp)
        ks.append(float(extra["k"]))
    ref_ks, ref_ms = _k_loop(lambda_k, 0.75, clip)
    np.testing.assert_allclose(ks, ref_ks, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ms, ref_ms, rtol=1e-6)
    if lambda_k > 1:  # the two variants really differ here
        assert (min(ks) < 0 or max(ks) > 1) != clip


def test_began_k_is_unclipped_by_default():
    assert models.get("began") is models.get("began")
    hp = {"lambda_k": f32(1.0), "gamma": f32(0.5)}
    extra = objective("began").update_extra({"k": f32(0.0)}, Outputs(f32([0.1]), f32([0.9])),
                                           hp)
    close(extra["k"], 0.5 * 0.1 - 0.9)


def _began_step(k_update: str, disc_bn: bool):
    """One BEGAN step of the GAN family on a tiny case (8x8, batch 4) from k = 0.2, with
    lambda_k = 0.5 so that k moves visibly; returns what a hand computation needs."""
    from benchmark.training.base import STEPS, Batch, apply_train
    from benchmark.training.families import gan
    from models import priors

    structure = train.Structure("began", (8, 8, 1), n_disc=1, disc_bn=disc_bn,
                                options=(("k_update", k_update),), batch_size=4)
    state = train.init_run(structure, 4, 7)
    state = state.replace(extra={"k": f32(0.2)})
    x = jax.random.uniform(jax.random.PRNGKey(9), (4, 8, 8, 1))
    hp = {"lr": f32(1e-2), "beta1": f32(0.5), "lambda_k": f32(0.5), "gamma": f32(0.75)}
    new, metrics = jax.jit(
        lambda s, x: train.family_step(structure, s, hp, Batch(x), jnp.int32(0)))(state, x)
    # the step's z: the run's step stream at t = 0, first of three keys
    # (benchmark.training.families.gan)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), 0)
    z = priors.sample(jax.random.split(key, 3)[0], (4, structure.z_dim), "uniform")
    G, D = gan.generator(structure), gan.discriminator(structure)

    def losses_of(params, stats):
        """L(x) and L(G(z)) in training mode, and G's batch statistics after the pass."""
        fake, g_stats = apply_train(G, params["generator"], stats["generator"], z)
        l_real, d_stats = apply_train(D, params["discriminator"], stats["discriminator"], x)
        l_fake, _ = apply_train(D, params["discriminator"], d_stats, fake)
        return float(jnp.mean(l_real)), float(jnp.mean(l_fake)), g_stats

    return state, new, metrics, losses_of


@pytest.mark.parametrize("disc_bn", [False, True])
def test_began_k_update_after_and_before_by_hand(disc_bn):
    """k_update=after (v1's hook, the default): k1 = k0 + lambda_k (gamma L1(x) - L1(G1(z)))
    with the D and G of after the step; k_update=before: with the step's D pass (D0, G0). The
    networks' updates do not depend on the option (the D loss uses k0), so the two runs share
    their parameters and differ in k and in one more training-mode pass of G's BN averages."""
    lambda_k, gamma, k0 = 0.5, 0.75, 0.2
    before_state, before, m_before, losses_of = _began_step("before", disc_bn)
    _, after, m_after, _ = _began_step("after", disc_bn)
    assert objective("began").update_extra_after_step  # v1's is the default
    assert not objective("began", {"k_update": "before"}).update_extra_after_step
    assert trees_equal(before.params, after.params)
    l0_real, l0_fake, _ = losses_of(before_state.params, before_state.batch_stats)
    l1_real, l1_fake, g_stats_again = losses_of(after.params, before.batch_stats)
    assert abs((l1_real - l1_fake) - (l0_real - l0_fake)) > 1e-3  # the step changed D and G
    close(before.extra["k"], k0 + lambda_k * (gamma * l0_real - l0_fake), rtol=1e-5)
    close(after.extra["k"], k0 + lambda_k * (gamma * l1_real - l1_fake), rtol=1e-5)
    for m, (lx, lg) in ((m_before, (l0_real, l0_fake)), (m_after, (l1_real, l1_fake))):
        close(m["k"], k0)  # the k the step's D loss used
        close(m["convergence"], lx + abs(gamma * lx - lg), rtol=1e-5)
    # "after" moved G's BN averages once more: from "before"'s, by the pass on G1(z)
    for ours, again in zip(jax.tree.leaves(after.batch_stats["generator"]),
                           jax.tree.leaves(g_stats_again), strict=True):
        np.testing.assert_allclose(ours, again, rtol=1e-6, atol=1e-7)
    assert not trees_equal(after.batch_stats["generator"], before.batch_stats["generator"])
    structure = train.Structure("began", (8, 8, 1), n_disc=5)
    assert train.generator_bn_updates(structure, 12) == 12 + 4 + 12  # D steps, G steps, k pass
    before_structure = train.Structure("began", (8, 8, 1), n_disc=5,
                                       options=(("k_update", "before"),))
    assert train.generator_bn_updates(before_structure, 12) == 12 + 4


def trees_equal(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


# --- penalties -------------------------------------------------------------------------------


def _batch(key, shape=(6, 4, 4, 1)):
    k1, k2 = jax.random.split(key)
    return jax.random.uniform(k1, shape), jax.random.uniform(k2, shape)


def _linear_d(w, b=0.3):
    """D(x) = <w, x> + b per example: its input gradient is w everywhere."""
    return lambda x: jnp.sum(x * w, axis=(1, 2, 3)) + b


@pytest.mark.parametrize("w_scale", [0.0, 0.05, 0.5])
@pytest.mark.parametrize("lam", [1.0, 10.0])
def test_wgan_gp_penalty_on_a_linear_discriminator(w_scale, lam):
    x, fake = _batch(jax.random.PRNGKey(0))
    w = w_scale * jax.random.normal(jax.random.PRNGKey(1), x.shape[1:])
    norm = np.sqrt(1e-4 + np.sum(np.asarray(w, np.float64) ** 2))  # 1e-4 inside the norm
    value = wgan_gp_penalty(_linear_d(w), x, fake, jax.random.PRNGKey(2), {"lambda": f32(lam)})
    close(value, lam * (norm - 1.0) ** 2, rtol=1e-5)
    if w_scale == 0.0:  # sqrt(1e-4) = 0.01: (0.01 - 1)^2 = 0.9801, not 1
        close(value, lam * 0.9801, rtol=1e-6)


def test_wgan_gp_interpolates_between_real_and_fake_with_one_alpha_per_example():
    """With D(x) = ||x||^2 / 2 the gradient is x~ itself. Real = 0 and fake = 1 on 4 pixels give
    ||x~|| = 2a: E(2a - 1)^2 = 1/3 for a ~ U[0,1] per example; one a per pixel would give
    ||x~|| close to sqrt(4/3) and a value near 0.03."""
    n = 20_000
    x, fake = jnp.zeros((n, 2, 2, 1)), jnp.ones((n, 2, 2, 1))
    d = lambda v: 0.5 * jnp.sum(v**2, axis=(1, 2, 3))
    value = float(wgan_gp_penalty(d, x, fake, jax.random.PRNGKey(3), {"lambda": f32(1.0)}))
    assert abs(value - 1.0 / 3.0) < 0.01
    # fake == real: x~ = x whatever a is, so the penalty is exact.
    x, _ = _batch(jax.random.PRNGKey(4))
    norms = np.sqrt(1e-4 + np.sum(np.asarray(x, np.float64) ** 2, axis=(1, 2, 3)))
    value = wgan_gp_penalty(d, x, x, jax.random.PRNGKey(5), {"lambda": f32(2.0)})
    close(value, 2.0 * np.mean((norms - 1.0) ** 2), rtol=1e-5)


def _logit_of_linear(w, c=0.5):
    """D(x) = logit(<w, x> + c): then sigma(D(x)) = <w, x> + c has input gradient w."""
    def d(x):
        p = jnp.sum(x * w, axis=(1, 2, 3)) + c
        return jnp.log(p) - jnp.log1p(-p)
    return d


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
@pytest.mark.parametrize("w_scale", [0.0, 0.01, 0.05])
def test_dragan_penalty_takes_the_gradient_of_sigmoid_d(kind, w_scale):
    x, fake = _batch(jax.random.PRNGKey(6))
    w = w_scale * jax.random.normal(jax.random.PRNGKey(7), x.shape[1:])
    norm = np.sqrt(1e-4 + np.sum(np.asarray(w, np.float64) ** 2))  # compare_gan v1 DRAGAN
    value = dragan_penalty(_logit_of_linear(w), x, fake, jax.random.PRNGKey(8),
                           {"lambda": f32(10.0)}, kind=kind)
    close(value, 10.0 * (norm - 1.0) ** 2, rtol=1e-4)
    # The gradient of D itself would be w / (s (1 - s)), so a penalty on D differs.
    if w_scale > 0:
        grad_d = jax.grad(lambda v: jnp.sum(_logit_of_linear(w)(v)))(x)
        norms_d = np.sqrt(np.sum(np.asarray(grad_d) ** 2, axis=(1, 2, 3)))
        assert not np.isclose(10.0 * np.mean((norms_d - 1) ** 2), float(value), rtol=1e-2)


def _curved_d(x):
    """A D whose sigma(D) = 0.5 + 0.02 sum sin(10 x) has an input gradient that varies."""
    p = 0.5 + 0.02 * jnp.sum(jnp.sin(10.0 * x), axis=(1, 2, 3))
    return jnp.log(p) - jnp.log1p(-p)


def test_dragan_penalty_ignores_fake_images():
    x, fake = _batch(jax.random.PRNGKey(9))
    d = _curved_d
    hp, key = {"lambda": f32(10.0)}, jax.random.PRNGKey(10)
    close(dragan_penalty(d, x, fake, key, hp), dragan_penalty(d, x, 1.0 - fake, key, hp))


def test_dragan_perturbation_v1_uniform_scaled_by_one_batch_std():
    """x_p = x + 0.5 * std(batch) * u, u ~ U[0,1) per element, one std over the whole batch."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    x[0] *= 10.0  # one example with a much larger spread: a per-example std would show
    x[1] *= 0.01
    std = np.std(x.astype(np.float64))
    u = (np.asarray(dragan_perturb(jax.random.PRNGKey(11), jnp.asarray(x)), np.float64) - x)
    u /= 0.5 * std
    assert u.min() >= -1e-5 and u.max() < 1.0 + 1e-5
    for example in u:  # the same U[0,1) on every example
        assert abs(example.mean() - 0.5) < 0.02
        assert abs(example.var() - 1.0 / 12.0) < 0.01


def test_dragan_perturbation_gaussian_option():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    std = np.std(x.astype(np.float64))
    u = np.asarray(dragan_perturb(jax.random.PRNGKey(12), jnp.asarray(x), "gaussian"),
                   np.float64) - x
    u /= 0.5 * std
    assert abs(u.mean()) < 0.03 and abs(u.std() - 1.0) < 0.03 and u.min() < -2.0
    with pytest.raises(ValueError):
        dragan_perturb(jax.random.PRNGKey(0), jnp.asarray(x), "laplace")


def test_dragan_option_selects_the_perturbation():
    x, fake = _batch(jax.random.PRNGKey(13))
    d = _curved_d
    hp, key = {"lambda": f32(10.0)}, jax.random.PRNGKey(14)
    default = objective("dragan").penalty(d, x, fake, key, hp)
    gaussian = objective("dragan", {"perturbation": "gaussian"}).penalty(d, x, fake, key,
                                                                     hp)
    close(default, dragan_penalty(d, x, fake, key, hp, kind="uniform"))
    close(gaussian, dragan_penalty(d, x, fake, key, hp, kind="gaussian"))
    assert not np.isclose(float(default), float(gaussian), rtol=1e-3)


# --- VAE -------------------------------------------------------------------------------------


def test_vae_negative_elbo_against_numpy():
    rng = np.random.default_rng(2)
    b, h, w, c, z = 5, 6, 4, 3, 7
    logits = rng.normal(scale=3.0, size=(b, h, w, c))
    x = rng.uniform(size=(b, h, w, c))  # grey levels, not only 0 and 1
    mu, sigma = rng.normal(size=(b, z)), rng.uniform(0.05, 2.0, size=(b, z))
    ce = -(x * log_sigmoid(logits) + (1 - x) * log_one_minus_sigmoid(logits))
    recon = ce.sum(axis=(1, 2)).mean()  # sum over height and width, mean over batch, channels
    kl = (0.5 * (mu**2 + sigma**2 - np.log(sigma**2) - 1.0).sum(axis=1)).mean()
    value, parts = vae.negative_elbo(f32(logits), f32(x), f32(mu), f32(sigma))
    close(parts["reconstruction"], recon, rtol=1e-5)
    close(parts["kl"], kl, rtol=1e-5)
    close(value, recon + kl, rtol=1e-5)
    # KL of the prior itself is 0.
    close(vae.kl_divergence(jnp.zeros((2, z)), jnp.ones((2, z))), 0.0)


# --- WGAN clipping in a real training step ---------------------------------------------------


def test_wgan_clipping_reaches_every_discriminator_variable():
    """One WGAN step through benchmark.training: with lr 0.1 Adam moves every variable by about
    0.1, so every D leaf (BN scale starts at 1) ends exactly inside [-c, c]; G is untouched."""
    c = 0.01
    structure = train.Structure("wgan", (8, 8, 1), n_disc=1, disc_bn=True, batch_size=8)
    data = jnp.asarray(np.random.default_rng(3).integers(0, 256, (16, 8, 8, 1), np.uint8))
    states = train.init_runs(structure, 16, np.array([0]))
    hps = {"lr": f32([0.1]), "beta1": f32([0.5]), "clip": f32([c])}
    states, metrics = train.train_segment(states, hps, data, jnp.int32(0), structure=structure,
                                          scale=1 / 255, num_steps=1, unroll=True, branch=False)
    assert int(states.failed_step[0]) == -1
    d_leaves = flatten_dict(states.params["discriminator"])
    assert any("BatchNorm" in "/".join(k) for k in d_leaves)
    for path, value in d_leaves.items():
        value = np.asarray(value)
        assert np.abs(value).max() <= c, path
        if path[-1] in ("kernel", "scale"):
            assert np.abs(value).max() == pytest.approx(c), path  # clipping did bind
    bn_scale = d_leaves[("trunk", "BatchNorm_0", "scale")]
    np.testing.assert_allclose(bn_scale, c)  # 1 - ~0.1, clipped to c
    # Moving averages are not trainable variables (v1 clips d_vars): left as they are.
    assert float(states.batch_stats["discriminator"]["trunk"]["BatchNorm_0"]["var"].min()) > 0.9
    g_scale = states.params["generator"]["BatchNorm_0"]["scale"]
    assert float(jnp.abs(g_scale).max()) > 0.5  # G is not clipped


# --- registry and defaults -------------------------------------------------------------------




def test_registry_has_the_eight_models_with_author_defaults():
    assert sorted(models.names()) == sorted(AUTHOR_DEFAULTS)
    for name, defaults in AUTHOR_DEFAULTS.items():
        loss = models.get(name)
        assert loss.name == name
        for key, value in defaults.items():
            assert loss.defaults[key] == value, (name, key)
        for hparam in loss.hparams:
            assert loss.defaults[hparam.name] == hparam.default
    assert objective("wgan_gp").fresh_z_for_generator
    assert models.get("vae").latent == "normal" and models.get("ns_gan").latent == "uniform"


def test_registry_errors_are_user_errors():
    with pytest.raises(ValueError, match="unknown model"):
        models.get("no_such_gan")
    with pytest.raises(ValueError, match="no option"):
        models.get("ns_gan", {"perturbation": "gaussian"})
    with pytest.raises(ValueError, match="perturbation"):
        models.get("dragan", {"perturbation": "laplace"})
    with pytest.raises(ValueError, match="unknown model"):
        _ = train.Structure("no_such_gan", (28, 28, 1)).recipe
