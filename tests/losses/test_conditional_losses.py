"""The objectives of the conditional, information-seeking and encoder GANs against their
papers' formulas (docs/protocol.md §12.1-§12.6), and their networks' shapes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from losses import acgan, bigan, cgan, infogan, ssgan, vaegan
from losses.base import Outputs
from models.architectures import acgan as acgan_nets
from models.architectures import ali as ali_nets
from models.architectures import bigan as bigan_nets
from models.architectures import cgan as cgan_nets
from models.architectures import infogan_q
from models.architectures import ssgan as ssgan_nets
from models.architectures import vaegan as vaegan_nets

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
    lse = lambda v: jax.nn.logsumexp(jnp.asarray(v), axis=-1)  # noqa: E731  D's real logit
    assert float(ssgan.unsupervised_loss(lse(real), lse(fake))) == pytest.approx(closed,
                                                                               rel=1e-5)
    labelled, y = RNG.normal(size=(6, 10)), RNG.randint(0, 10, 6)
    out = Outputs(lse(real), lse(fake), aux_real={
        "labelled_class_logits": jnp.asarray(labelled), "labelled_y": jnp.asarray(y)})
    ce = -np.mean(log_softmax(labelled)[np.arange(6), y])
    d = ssgan.discriminator_loss(out, {"unsupervised_weight": 0.5}, {})
    assert float(d) == pytest.approx(ce + 0.5 * closed, rel=1e-5)


def test_ssgan_feature_matching_and_labelled_subset():
    f = jnp.asarray(RNG.normal(size=(8, 5)))
    out = Outputs(None, jnp.zeros(8), aux_real={"features": f}, aux_fake={"features": f[::-1]})
    assert float(ssgan.generator_loss(out, {}, {})) == pytest.approx(0.0, abs=1e-12)
    out = out.replace(aux_fake={"features": f + 2.0})
    assert float(ssgan.generator_loss(out, {}, {})) == pytest.approx(4.0, rel=1e-6)
    labels = RNG.randint(0, 10, 1000)
    picked = ssgan.labelled_indices(labels, 10, seed=3)
    assert picked.shape == (100,) and np.all(np.bincount(labels[picked]) == 10)
    np.testing.assert_array_equal(picked, ssgan.labelled_indices(labels, 10, seed=3))
    assert not np.array_equal(picked, ssgan.labelled_indices(labels, 10, seed=4))
    with pytest.raises(ValueError, match="fewer than"):
        ssgan.labelled_indices(labels[:20], 10, seed=0)


def test_acgan_losses_are_the_papers_l_s_and_l_c():
    r_logit, f_logit = RNG.normal(size=6), RNG.normal(size=6)
    r_cls, f_cls = RNG.normal(size=(6, 10)), RNG.normal(size=(6, 10))
    y, y_fake = RNG.randint(0, 10, 6), RNG.randint(0, 10, 6)
    out = Outputs(jnp.asarray(r_logit), jnp.asarray(f_logit), y=jnp.asarray(y),
                  y_fake=jnp.asarray(y_fake), aux_real={"class_logits": jnp.asarray(r_cls)},
                  aux_fake={"class_logits": jnp.asarray(f_cls)})
    l_s = np.mean(np.log(sigmoid(r_logit))) + np.mean(np.log(1 - sigmoid(f_logit)))
    l_c = (np.mean(log_softmax(r_cls)[np.arange(6), y])
           + np.mean(log_softmax(f_cls)[np.arange(6), y_fake]))
    assert float(acgan.discriminator_loss(out, {}, {})) == pytest.approx(-(l_s + l_c), rel=1e-5)
    # G's loss is -(L_C - L_S) less the terms of the real batch, which G cannot move.
    real_terms = -np.mean(log_softmax(r_cls)[np.arange(6), y]) + np.mean(
        np.log(sigmoid(r_logit)))
    assert float(acgan.generator_loss(out, {}, {})) == pytest.approx(
        -(l_c - l_s) - real_terms, rel=1e-5)
    ce_fake = -np.mean(log_softmax(f_cls)[np.arange(6), y_fake])
    assert float(acgan.generator_loss_non_saturating(out, {}, {})) == pytest.approx(
        ce_fake - np.mean(np.log(sigmoid(f_logit))), rel=1e-5)
    # Without drawn classes (the GAN family), the fakes' classes are the real batch's.
    same = out.replace(y_fake=None)
    ce_same = -np.mean(log_softmax(f_cls)[np.arange(6), y])
    assert float(acgan.generator_loss_non_saturating(same, {}, {})) == pytest.approx(
        ce_same - np.mean(np.log(sigmoid(f_logit))), rel=1e-5)


def test_infogan_information_bounds():
    n = 8
    category = jnp.asarray(RNG.randint(0, 10, n))
    z = jnp.asarray(RNG.uniform(-1, 1, (n, 64)))
    perfect = Outputs(jnp.zeros(n), jnp.zeros(n), y_fake=category, aux_fake={
        "category_logits": 50.0 * jax.nn.one_hot(category, 10),
        "continuous_mean": z[:, -2:], "z": z})
    assert float(infogan.category_information(perfect)) == pytest.approx(math.log(10), abs=1e-5)
    assert float(infogan.continuous_information(perfect)) == pytest.approx(
        2 * math.log(2) - math.log(2 * math.pi), rel=1e-6)
    blind = perfect.replace(aux_fake={"category_logits": jnp.zeros((n, 10)),
                                      "continuous_mean": jnp.zeros((n, 2)), "z": z})
    assert float(infogan.category_information(blind)) == pytest.approx(0.0, abs=1e-6)
    hp = {"lambda_category": 1.0, "lambda_continuous": 1.0}
    gan_d, gan_g = 2 * math.log(2), math.log(2)  # at D = 1/2
    info = math.log(10) + 2 * math.log(2) - math.log(2 * math.pi)
    assert float(infogan.discriminator_loss(perfect, hp, {})) == pytest.approx(gan_d - info,
                                                                              rel=1e-5)
    assert float(infogan.generator_loss(perfect, hp, {})) == pytest.approx(gan_g - info,
                                                                          rel=1e-5)


def test_adversarial_gradients_point_the_right_way():
    """d/d(logit) of each player's loss: D pushes real logits up and fake ones down; the
    players it judges push the other way (CGAN, BiGAN with E and G, VAE-GAN's decoder)."""
    x = jnp.asarray(RNG.normal(size=4))
    for objective in (cgan.OBJECTIVE, bigan.OBJECTIVE):
        gd = jax.grad(lambda r, f, o=objective: o.discriminator_loss(Outputs(r, f), {}, {}),
                      (0, 1))(x, x)
        gg = jax.grad(lambda r, f, o=objective: o.generator_loss(Outputs(r, f), {}, {}),
                      (0, 1))(x, x)
        assert np.all(gd[0] < 0) and np.all(gd[1] > 0)
        assert np.all(gg[1] < 0)
    # BiGAN's E is judged on the real pairs: E and G push D(x, E(x)) down.
    assert np.all(jax.grad(lambda r: bigan.generator_loss(Outputs(r, x), {}, {}))(x) > 0)

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
    v = G.init(key, z, train=False, labels=y)
    assert G.apply(v, z, train=False, labels=y).shape == (3, 28, 28, 1)
    assert not np.allclose(G.apply(v, z, train=False, labels=y),
                           G.apply(v, z, train=False, labels=y2))
    # no labels: balanced classes, class-major (one class per montage row)
    np.testing.assert_allclose(G.apply(v, z, train=False),
                               G.apply(v, z, train=False, labels=jnp.array([0, 3, 6])))
    D = cgan_nets.ConditionalDiscriminator(True)
    v = D.init(key, x, train=False, labels=y)
    assert not np.allclose(D.apply(v, x, train=False, labels=y),
                           D.apply(v, x, train=False, labels=y2))
    logit, heads = acgan_nets.AuxiliaryClassifierDiscriminator(True).init_with_output(
        key, x, train=False)[0]
    assert logit.shape == (3,) and heads["class_logits"].shape == (3, 10)
    logit, heads = infogan_q.InfoDiscriminator(True).init_with_output(key, x, train=False)[0]
    assert heads["category_logits"].shape == (3, 10) and heads["continuous_mean"].shape == (3, 2)
    logit, heads = ssgan_nets.ClassifierDiscriminator(False).init_with_output(
        key, x, train=False)[0]
    np.testing.assert_allclose(logit, jax.nn.logsumexp(heads["class_logits"], -1), rtol=1e-6)
    assert heads["features"].shape == (3, 1024)
    J = bigan_nets.JointDiscriminator(True, 64)
    v = J.init(key, x, train=False, z=z)
    assert not np.allclose(J.apply(v, x, train=False, z=z), J.apply(v, x, train=False, z=-z))
    for arch in (ali_nets.Ali(), vaegan_nets.VaeGan()):
        facts = type("Facts", (), {"image_shape": (28, 28, 1), "z_dim": 64, "disc_bn": True,
                                   "num_classes": None})()
        G = arch.generator(facts)
        v = G.init(key, z, train=False)
        assert set(v["params"]) == {"generator", "encoder"}
        zs, mu, sigma = G.apply(v, x, train=False, key=key,
                                method=bigan_nets.GeneratorWithEncoder.encode)
        assert zs.shape == mu.shape == sigma.shape == (3, 64) and not np.allclose(zs, mu)
    _, heads = vaegan_nets.FeatureDiscriminator(True).init_with_output(key, x, train=False)[0]
    assert heads["features"].shape == (3, 7 * 7 * 128)
