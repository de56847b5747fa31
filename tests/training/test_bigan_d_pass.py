"""BiGAN/ALI's model option ``d_pass`` (docs/protocol.md §12.5): ``joint`` scores the real
pairs (x, E(x)) and the fake pairs (G(z), z) in one training-mode pass of D ([BiGAN code]
gan.py, Featurizer, --cat_inputs); ``separate`` (the default) in two."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark.training.families.encoder import encode_and_generate, score_pairs
from models.architectures.bigan import GeneratorWithEncoder


class CodeEncoder(nn.Module):
    """E(x) = the image's mean pixel plus a fixed per-coordinate code, in 5 coordinates."""

    @nn.compact
    def __call__(self, x, train, key=None):
        z = jnp.mean(x, axis=(1, 2, 3))[:, None] + jnp.linspace(-0.5, 0.5, 5)
        return z, z, None


class FixedGenerator(nn.Module):
    """G(z) = fixed random images, whatever z: a shift of z changes only the fake codes."""

    @nn.compact
    def __call__(self, z, train, logits=False):
        return jax.random.uniform(jax.random.PRNGKey(7), (z.shape[0], 28, 28, 1))


def _bigan_pairs_setup(bn=True):
    from models.architectures.bigan import BiganDiscriminator

    G = GeneratorWithEncoder(FixedGenerator(), CodeEncoder(), (28, 28, 1))
    D = BiganDiscriminator(use_batch_norm=bn, z_dim=5)
    x = jax.random.uniform(jax.random.PRNGKey(0), (16, 28, 28, 1))
    z = jax.random.uniform(jax.random.PRNGKey(1), (16, 5), minval=-1.0, maxval=1.0)
    v = D.init(jax.random.PRNGKey(2), x, train=False, z=z)
    return G, D, x, z, v


def _pairs(G, D, v, x, z, joint):
    """D's outputs on (x, E(x)) and (G(z), z), G's and D's new statistics, as the family's
    step makes them."""
    (z_hat, fake), g_stats = encode_and_generate(G, x, z, None)({}, {})
    out, d_stats = score_pairs(D, v["params"], v.get("batch_stats", {}), x, z, z_hat, fake,
                               None, joint=joint)
    return out, g_stats, d_stats


def test_bigan_discriminator_in_one_pass_sees_a_shift_of_the_fake_codes():
    """The mirror of test_encoder_family.py's ``..._is_blind_to_a_batchwide_shift_of_z``,
    through the family's ``pairs``: a code c added to every z of the fake batch only (G
    ignores z) leaves D's training-mode logits unchanged when each batch is normalised over
    itself (d_pass=separate), and moves them when the real and fake pairs share one batch
    norm (d_pass=joint): the batch-wide difference is D's to see."""
    G, D, x, z, v = _bigan_pairs_setup()
    c = jnp.array([0.7, -0.4, 0.2, 0.9, -0.8])
    separate, _, _ = _pairs(G, D, v, x, z, joint=False)
    separate_c, _, _ = _pairs(G, D, v, x, z + c, joint=False)
    np.testing.assert_allclose(separate_c.d_fake, separate.d_fake, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(separate_c.d_real, separate.d_real, rtol=1e-6)
    joint, _, _ = _pairs(G, D, v, x, z, joint=True)
    joint_c, _, _ = _pairs(G, D, v, x, z + c, joint=True)
    assert float(jnp.std(joint.d_fake)) > 0.01
    assert not np.allclose(joint_c.d_fake, joint.d_fake, atol=1e-2)
    assert not np.allclose(joint_c.d_real, joint.d_real, atol=1e-3)  # shared statistics


def test_the_joint_pass_is_d_applied_once_to_the_concatenated_pairs():
    """d_pass=joint: the logits are D's on [x; G(z)] with codes [E(x); z] in one training-mode
    apply, split back (real first), and D's running averages are that apply's (one update);
    d_pass=separate (the default): two applies, real then fake, the averages updated twice."""
    G, D, x, z, v = _bigan_pairs_setup()
    fake = FixedGenerator().apply({}, z, train=True)
    z_hat = CodeEncoder().apply({}, x, train=True)[0]

    def once(xx, zz, stats):
        return D.apply({"params": v["params"], "batch_stats": stats}, xx, train=True, z=zz,
                       mutable=["batch_stats"])

    logits, ref = once(jnp.concatenate([x, fake]), jnp.concatenate([z_hat, z]),
                       v["batch_stats"])
    out, _, d_stats = _pairs(G, D, v, x, z, joint=True)
    np.testing.assert_allclose(out.d_real, logits[:16], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.d_fake, logits[16:], rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 d_stats, ref["batch_stats"])

    real, after_real = once(x, z_hat, v["batch_stats"])  # the default: two passes
    fake_logits, after_fake = once(fake, z, after_real["batch_stats"])
    out, _, d_stats = _pairs(G, D, v, x, z, joint=False)
    np.testing.assert_array_equal(out.d_real, real)
    np.testing.assert_array_equal(out.d_fake, fake_logits)
    jax.tree.map(np.testing.assert_array_equal, d_stats, after_fake["batch_stats"])
    assert not np.allclose(out.d_fake, logits[16:], atol=1e-3)  # the two passes differ


def test_d_pass_is_a_bigan_option_named_in_run_ids_and_rows():
    """``--option d_pass=joint`` (BiGAN and ALI): the family reads it from the structure; the
    default (separate) is dropped from run ids as every default option is, so existing run
    ids stay; rows carry the option's value; a wrong value's error lists the choices."""
    import models
    from benchmark.training import Structure
    from benchmark.training.families.encoder import joint_pass
    from sweeps.runs import make_run

    assert models.get("bigan").options["d_pass"] == ("separate", "joint")
    assert not joint_pass(Structure("bigan", (28, 28, 1)))
    assert joint_pass(Structure("bigan", (28, 28, 1), options=(("d_pass", "joint"),)))
    assert joint_pass(Structure("bigan", (28, 28, 1),
                                options=(("d_pass", "joint"), ("encoder", "stochastic"))))
    assert make_run("bigan", "triangles", 0).run_id == "bigan_triangles_c000_s0"
    assert make_run("bigan", "triangles", 0, options={"d_pass": "separate"}).run_id == \
        "bigan_triangles_c000_s0"
    joint = make_run("bigan", "triangles", 0, options={"d_pass": "joint"})
    assert joint.run_id == "bigan_d_pass-joint_triangles_c000_s0"
    assert joint.columns()["d_pass"] == "joint"
    assert make_run("bigan", "triangles", 0).columns()["d_pass"] == "separate"
    ali = make_run("bigan", "triangles", 0, options={"encoder": "stochastic", "d_pass": "joint"})
    assert ali.run_id == "bigan_d_pass-joint_encoder-stochastic_triangles_c000_s0"
    with pytest.raises(ValueError, match="separate, joint"):
        models.get("bigan", {"d_pass": "one"})
    with pytest.raises(ValueError, match="d_pass"):
        models.get("bigan", {"dpass": "joint"})
