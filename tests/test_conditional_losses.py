"""The objectives of the conditional, information-seeking and encoder GANs against their
papers' formulas (docs/protocol.md §11.1-§11.6), and their networks' shapes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from losses import acgan, bigan, cgan, infogan, ssgan, vaegan
from models import acgan as acgan_nets
from models import bigan as bigan_nets
from models import cgan as cgan_nets
from models import infogan_q
from models import ssgan as ssgan_nets
from models import vaegan as vaegan_nets

RNG = np.random.RandomState(0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))


def test_ssgan_unsupervised_loss_equals_its_closed_form():
    real, fake = RNG.normal(size=(7, 10)) * 3, RNG.normal(size=(5, 10)) * 3
    z_real, z_fake = np.exp(real).sum(-1), np.exp(fake).sum(-1)
    closed = -np.mean(np.log(z_real / (z_real + 1))) - np.mean(np.log(1 / (z_fake + 1)))
    out = {"d_real": {"class_logits": jnp.asarray(real)},
           "d_fake": {"class_logits": jnp.asarray(fake)}}
    assert float(ssgan.unsupervised_loss(out)) == pytest.approx(closed, rel=1e-5)
    labelled, y = RNG.normal(size=(6, 10)), RNG.randint(0, 10, 6)
    out.update(d_labelled={"class_logits": jnp.asarray(labelled)}, y_labelled=jnp.asarray(y))
    ce = -np.mean(log_softmax(labelled)[np.arange(6), y])
    d = ssgan.discriminator_loss(out, {"unsupervised_weight": 0.5})
    assert float(d) == pytest.approx(ce + 0.5 * closed, rel=1e-5)


def test_ssgan_feature_matching_and_labelled_subset():
    f = jnp.asarray(RNG.normal(size=(8, 5)))
    out = {"d_real": {"features": f}, "d_fake": {"features": f[::-1]}}
    assert float(ssgan.generator_loss(out, {})) == pytest.approx(0.0, abs=1e-12)
    out["d_fake"] = {"features": f + 2.0}
    assert float(ssgan.generator_loss(out, {})) == pytest.approx(4.0, rel=1e-6)
    labels = RNG.randint(0, 10, 1000)
    picked = ssgan.labelled_indices(labels, 10, seed=3)
    assert picked.shape == (100,) and np.all(np.bincount(labels[picked]) == 10)
    np.testing.assert_array_equal(picked, ssgan.labelled_indices(labels, 10, seed=3))
    assert not np.array_equal(picked, ssgan.labelled_indices(labels, 10, seed=4))
    with pytest.raises(ValueError, match="fewer than"):
        ssgan.labelled_indices(labels[:20], 10, seed=0)


def _acgan_out():
    return {
        "d_real": {"logit": jnp.asarray(RNG.normal(size=6)),
                   "class_logits": jnp.asarray(RNG.normal(size=(6, 10)))},
        "d_fake": {"logit": jnp.asarray(RNG.normal(size=6)),
                   "class_logits": jnp.asarray(RNG.normal(size=(6, 10)))},
        "y_real": jnp.asarray(RNG.randint(0, 10, 6)),
        "y_fake": jnp.asarray(RNG.randint(0, 10, 6)),
    }


def test_acgan_losses_are_the_papers_l_s_and_l_c():
    out = _acgan_out()
    r, f = out["d_real"], out["d_fake"]
    l_s = np.mean(np.log(sigmoid(np.asarray(r["logit"])))) + np.mean(
        np.log(1 - sigmoid(np.asarray(f["logit"]))))
    l_c = (np.mean(log_softmax(r["class_logits"])[np.arange(6), out["y_real"]])
           + np.mean(log_softmax(f["class_logits"])[np.arange(6), out["y_fake"]]))
    assert float(acgan.discriminator_loss(out, {})) == pytest.approx(-(l_s + l_c), rel=1e-5)
    # G's loss is -(L_C - L_S) less the terms of the real batch, which G cannot move.
    real_terms = -np.mean(log_softmax(r["class_logits"])[np.arange(6), out["y_real"]]) \
        + np.mean(np.log(sigmoid(np.asarray(r["logit"]))))
    assert float(acgan.generator_loss(out, {})) == pytest.approx(
        -(l_c - l_s) - real_terms, rel=1e-5)
    ns = float(acgan.generator_loss_non_saturating(out, {}))
    ce_fake = -np.mean(log_softmax(f["class_logits"])[np.arange(6), out["y_fake"]])
    assert ns == pytest.approx(ce_fake - np.mean(np.log(sigmoid(np.asarray(f["logit"])))),
                               rel=1e-5)


def test_infogan_information_bounds():
    n = 8
    category = jnp.asarray(RNG.randint(0, 10, n))
    continuous = jnp.asarray(RNG.uniform(-1, 1, (n, 2)))
    perfect = {"d_fake": {"category_logits": 50.0 * jax.nn.one_hot(category, 10),
                          "continuous_mean": continuous},
               "codes": {"category": category, "continuous": continuous}}
    assert float(infogan.category_information(perfect)) == pytest.approx(math.log(10), abs=1e-5)
    assert float(infogan.continuous_information(perfect)) == pytest.approx(
        2 * math.log(2) - math.log(2 * math.pi), rel=1e-6)
    blind = {"d_fake": {"category_logits": jnp.zeros((n, 10)),
                        "continuous_mean": jnp.zeros((n, 2))},
             "codes": perfect["codes"]}
    assert float(infogan.category_information(blind)) == pytest.approx(0.0, abs=1e-6)
    hp = {"lambda_category": 1.0, "lambda_continuous": 1.0}
    logits = {"logit": jnp.zeros(n)}
    out = {"d_real": logits, "d_fake": {**perfect["d_fake"], **logits}, "codes": perfect["codes"]}
    gan_d, gan_g = 2 * math.log(2), math.log(2)  # at D = 1/2
    info = math.log(10) + 2 * math.log(2) - math.log(2 * math.pi)
    assert float(infogan.discriminator_loss(out, hp)) == pytest.approx(gan_d - info, rel=1e-5)
    assert float(infogan.generator_loss(out, hp)) == pytest.approx(gan_g - info, rel=1e-5)


def test_adversarial_gradients_point_the_right_way():
    """d/d(logit) of each player's loss: D pushes real logits up and fake ones down; the
    players it judges push the other way (CGAN, BiGAN with E and G, VAE-GAN's decoder)."""
    x = jnp.asarray(RNG.normal(size=4))
    for d_loss, g_loss in [(cgan.discriminator_loss, cgan.generator_loss),
                           (bigan.discriminator_loss, bigan.generator_loss)]:
        gd = jax.grad(lambda r, f, fn=d_loss: fn({"d_real": r, "d_fake": f}, {}), (0, 1))(x, x)
        gg = jax.grad(lambda r, f, fn=g_loss: fn({"d_real": r, "d_fake": f}, {}), (0, 1))(x, x)
        assert np.all(gd[0] < 0) and np.all(gd[1] > 0)
        assert np.all(gg[1] < 0)
    assert np.all(jax.grad(lambda r: bigan.generator_loss({"d_real": r, "d_fake": x}, {}))(x) > 0)

    feats = jnp.asarray(RNG.normal(size=(4, 6)))
    out = {"mu": jnp.zeros((4, 3)), "sigma": jnp.ones((4, 3)), "features_real": feats,
           "features_recon": feats, "d_real": x, "d_recon": x, "d_prior": x}
    hp = {"gamma": 0.01}
    for fn in (vaegan.decoder_loss, vaegan.decoder_loss_non_saturating):
        grads = jax.grad(lambda o, fn=fn: fn(o, hp))(out)
        assert np.all(grads["d_recon"] < 0) and np.all(grads["d_prior"] < 0)
    grads = jax.grad(lambda o: vaegan.discriminator_loss(o, hp))(out)
    assert np.all(grads["d_real"] < 0) and np.all(grads["d_recon"] > 0)
    assert np.all(grads["d_prior"] > 0)


def test_vaegan_terms():
    f = jnp.asarray(RNG.normal(size=(4, 2, 3)))
    out = {"mu": jnp.zeros((4, 3)), "sigma": jnp.ones((4, 3)), "features_real": f,
           "features_recon": f + 1.0}
    assert float(vaegan.prior_loss(out)) == pytest.approx(0.0, abs=1e-6)
    assert float(vaegan.feature_reconstruction(out)) == pytest.approx(3.0, rel=1e-6)  # 0.5*6
    assert float(vaegan.encoder_loss(out, {})) == pytest.approx(3.0, rel=1e-6)


@pytest.mark.slow  # nine networks initialised op by op: 10-90 s on the shared 2 cores
def test_networks_take_and_use_what_their_method_needs():
    key = jax.random.key(0)
    x = jnp.asarray(RNG.uniform(size=(3, 28, 28, 1)), jnp.float32)
    z = jnp.asarray(RNG.uniform(-1, 1, (3, 64)), jnp.float32)
    y, y2 = jnp.array([0, 1, 2]), jnp.array([5, 6, 7])
    G = cgan_nets.ConditionalGenerator((28, 28, 1))
    v = G.init(key, z, y, train=False)
    assert G.apply(v, z, y, train=False).shape == (3, 28, 28, 1)
    assert not np.allclose(G.apply(v, z, y, train=False), G.apply(v, z, y2, train=False))
    D = cgan_nets.ConditionalDiscriminator(True)
    v = D.init(key, x, y, train=False)
    assert not np.allclose(D.apply(v, x, y, train=False), D.apply(v, x, y2, train=False))
    out = acgan_nets.AuxiliaryClassifierDiscriminator(True).init_with_output(
        key, x, train=False)[0]
    assert out["logit"].shape == (3,) and out["class_logits"].shape == (3, 10)
    latent, codes = infogan_q.sample_latent(key, 5)
    assert latent.shape == (5, 74) and infogan_q.LATENT_DIM == 74
    np.testing.assert_array_equal(np.argmax(latent[:, 62:72], -1), codes["category"])
    assert float(jnp.min(latent)) >= -1.0 and float(jnp.max(latent)) <= 1.0
    out = infogan_q.InfoDiscriminator(True).init_with_output(key, x, train=False)[0]
    assert out["category_logits"].shape == (3, 10) and out["continuous_mean"].shape == (3, 2)
    out = ssgan_nets.ClassifierDiscriminator(False).init_with_output(key, x, train=False)[0]
    assert out["class_logits"].shape == (3, 10) and out["features"].shape == (3, 1024)
    J = bigan_nets.JointDiscriminator(True)
    v = J.init(key, x, z, train=False)
    assert not np.allclose(J.apply(v, x, z, train=False), J.apply(v, x, -z, train=False))
    zs, mu, sigma = bigan_nets.StochasticEncoder(64, True).init_with_output(
        key, x, train=False, key=key)[0]
    assert zs.shape == mu.shape == sigma.shape == (3, 64) and not np.allclose(zs, mu)
    out = vaegan_nets.FeatureDiscriminator(True).init_with_output(key, x, train=False)[0]
    assert out["features"].shape == (3, 7 * 7 * 128)
