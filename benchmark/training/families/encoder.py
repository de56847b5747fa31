"""The encoder family (docs/protocol.md §12.5, §12.6): BiGAN, ALI and VAE-GAN. E sits with G
in the state's "generator" (``models.architectures.bigan.GeneratorWithEncoder``: params
{"generator", "encoder"}), D in "discriminator". Each step: a D update, then (G steps) one
update of E and G against the updated D.

- BiGAN/ALI: D's logits on the pairs (x, E(x)) and (G(z), z) are the objective's ``d_real``
  and ``d_fake`` (:func:`pairs`); E and G descend one loss together. The model option
  ``d_pass`` says how D scores them in training mode: ``separate`` (the default), a pass for
  each, each batch-normalised over itself; ``joint``, one pass on the two concatenated (one
  batch norm over the 2B pairs), in D's update and in E/G's ([BiGAN code] ``--cat_inputs``,
  docs/protocol.md §12.5).
- VAE-GAN: D sees x, x~ = G(E(x)) and G(z_p); the encoder descends its loss (L_prior +
  L_llike) and the decoder its own (gamma L_llike + the GAN terms): the paper's split, one
  Adam step on the two sets of gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmark.training.base import (
    STEPS,
    Batch,
    Family,
    RunState,
    Structure,
    adam,
    apply_train,
    generator_steps,
)
from benchmark.training.families import gan, register_family
from benchmark.training.families.gan import discriminator, generator, heads
from losses.base import Outputs
from losses.vaegan import feature_reconstruction, prior_loss
from models import priors
from models.architectures.bigan import GeneratorWithEncoder


def init_optimizer(structure: Structure, params: dict) -> tuple[dict, dict]:
    """One Adam state for G (with E) and one for D; no objective state."""
    adam_structure = optax.adam(1.0)
    return {name: adam_structure.init(p) for name, p in params.items()}, {}


def encode_train(G, params, stats, x, key):
    """((z, mu, sigma), G's new statistics) of E in training mode."""
    return apply_train(G, params, stats, x, key=key, method=GeneratorWithEncoder.encode)


def encode_and_generate(G, x, z, key):
    """E's and G's training-mode pass as ``(params, stats) -> ((E(x), G(z)), stats)``, the
    form :func:`benchmark.training.families.gan.generator_pass` takes; D scores its codes and
    images with :func:`score_pairs`. ``key``: E's noise."""
    def pass_of(g_params, g_stats):
        (z_hat, _, _), g_stats = encode_train(G, g_params, g_stats, x, key)
        fake, g_stats = apply_train(G, g_params, g_stats, z)
        return (z_hat, fake), g_stats
    return pass_of


def score_pairs(D, d_params, d_stats, x, z, z_hat, fake, key, joint: bool = False):
    """D's logits on the real pairs (x, z_hat) and the fake pairs (fake, z): (Outputs, D's new
    statistics). ``key``: D's dropout masks (ALI's D, one mask for the real and one for the
    fake batch); None: none. ``joint``: D scores the 2B pairs, real then fake, in one
    training-mode pass (one batch norm over all of them, one update of D's running averages)
    and the logits are split back (``d_pass=joint``); otherwise in two passes, each
    batch-normalised over itself."""
    if joint:
        rngs = {} if key is None else {"rngs": {"dropout": jax.random.fold_in(key, 3)}}
        logits, d_stats = apply_train(D, d_params, d_stats, jnp.concatenate([x, fake]),
                                      z=jnp.concatenate([z_hat, z]), **rngs)
        n = x.shape[0]
        return Outputs(logits[:n], logits[n:]), d_stats
    real_rngs, fake_rngs = ({} if key is None else
                            {"rngs": {"dropout": jax.random.fold_in(key, i)}} for i in (1, 2))
    d_real, d_stats = apply_train(D, d_params, d_stats, x, z=z_hat, **real_rngs)
    d_fake, d_stats = apply_train(D, d_params, d_stats, fake, z=z, **fake_rngs)
    return Outputs(d_real, d_fake), d_stats


def joint_pass(structure: Structure) -> bool:
    """Whether D scores the real and fake pairs in one pass (the model option
    ``d_pass=joint``; models/zoo/bigan.py)."""
    return dict(structure.options).get("d_pass", "separate") == "joint"


def vaegan_outputs(G, D, g_params, g_stats, d_params, d_stats, x, z_p, key):
    """The VAE-GAN objective's ``out`` mapping (losses/vaegan.py) and the new statistics."""
    (z, mu, sigma), g_stats = encode_train(G, g_params, g_stats, x, key)
    recon, g_stats = apply_train(G, g_params, g_stats, z)
    prior_images, g_stats = apply_train(G, g_params, g_stats, z_p)
    (d_real, real), d_stats = _heads_and_stats(D, d_params, d_stats, x)
    (d_recon, rec), d_stats = _heads_and_stats(D, d_params, d_stats, recon)
    (d_prior, _), d_stats = _heads_and_stats(D, d_params, d_stats, prior_images)
    out = {"mu": mu, "sigma": sigma, "features_real": real["features"],
           "features_recon": rec["features"], "d_real": d_real, "d_recon": d_recon,
           "d_prior": d_prior}
    return out, g_stats, d_stats


def vaegan_gradients(objective, hp, parts, g_params):
    """VAE-GAN's G step (docs/protocol.md §12.6): E descends the encoder loss, the decoder G
    the decoder loss, both functions of the same pass ``parts(g_params) -> (out, stats)``.
    One forward pass with its pullback (``jax.vjp``), pulled back once per loss; returns the
    decoder loss, ``{"encoder": E's gradient, "generator": G's}``, the new statistics and
    ``out``. (Before: one ``jax.grad`` per loss, each running the pass.)"""
    out, pullback, stats = jax.vjp(parts, g_params, has_aux=True)
    (enc_grads,) = pullback(jax.grad(lambda o: objective.encoder_loss(o, hp))(out))
    g_loss, d_out = jax.value_and_grad(lambda o: objective.decoder_loss(o, hp))(out)
    (dec_grads,) = pullback(d_out)
    grads = {"encoder": enc_grads["encoder"], "generator": dec_grads["generator"]}
    return g_loss, grads, stats, out


def _heads_and_stats(D, params, stats, x):
    out, stats = apply_train(D, params, stats, x)
    return heads(out), stats


def _is_vaegan(structure: Structure) -> bool:
    return hasattr(structure.recipe.objective, "encoder_loss")


def update(structure: Structure, state: RunState, hp, batch: Batch, t):
    """The D update, with E and G of before the step (their statistics move). BiGAN's and
    ALI's E and G pass is kept for the G step where it can be
    (:func:`benchmark.training.families.gan.generator_pass`)."""
    objective = structure.recipe.objective
    G, D = generator(structure), discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, k_e = jax.random.split(key)
    z = priors.sample(k_z, (structure.batch_size, structure.z_dim), structure.recipe.latent)
    g_params = jax.lax.stop_gradient(state.params["generator"])
    g_stats, d_stats = state.batch_stats["generator"], state.batch_stats["discriminator"]
    d_params = state.params["discriminator"]

    carry = {}
    if _is_vaegan(structure):
        def d_objective(dp):
            out, gs, ds = vaegan_outputs(G, D, g_params, g_stats, dp, d_stats, batch.x, z, k_e)
            return objective.discriminator_loss(out, hp), (gs, ds)
    else:
        codes, new_g_stats, carry = gan.generator_pass(
            structure, encode_and_generate(G, batch.x, z, k_e), state.params["generator"],
            g_stats)
        z_hat, fake = jax.lax.stop_gradient(codes)

        def d_objective(dp):
            out, ds = score_pairs(D, dp, d_stats, batch.x, z, z_hat, fake, k_e,
                                  joint=joint_pass(structure))
            return objective.discriminator_loss(out, hp, state.extra), (new_g_stats, ds)

    (d_loss, (g_stats, d_stats)), grads = jax.value_and_grad(d_objective, has_aux=True)(
        d_params)
    updates, d_opt = adam(hp, "discriminator").update(
        grads, state.opt_state["discriminator"], d_params)
    new_state = state.replace(
        params={**state.params, "discriminator": optax.apply_updates(d_params, updates)},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={**state.opt_state, "discriminator": d_opt},
    )
    return new_state, {"d_loss": d_loss}, {**carry, "z": z, "k_e": k_e}


def generator_update(structure: Structure, state: RunState, hp, batch: Batch, t, carry):
    """E and G against the updated D (its statistics not kept), on the step's z and noise;
    BiGAN's and ALI's from the D step's pass of E and G where the carry holds it
    (:func:`benchmark.training.families.gan.generator_gradient`)."""
    objective = structure.recipe.objective
    G, D = generator(structure), discriminator(structure)
    d_params, d_stats = state.params["discriminator"], state.batch_stats["discriminator"]
    g_params, g_stats = state.params["generator"], state.batch_stats["generator"]
    z, k_e = carry["z"], carry["k_e"]
    metrics = {}
    if _is_vaegan(structure):
        g_loss, grads, new_stats, out = vaegan_gradients(
            objective, hp, lambda gp: vaegan_outputs(G, D, gp, g_stats, d_params, d_stats,
                                                     batch.x, z, k_e)[:2], g_params)
        metrics = {"kl": prior_loss(out), "llike": feature_reconstruction(out)}
    else:
        def loss_of(codes):
            out, _ = score_pairs(D, d_params, d_stats, batch.x, z, *codes, k_e,
                                 joint=joint_pass(structure))
            return objective.generator_loss(out, hp, state.extra)

        g_loss, grads, new_stats = gan.generator_gradient(
            state, carry, loss_of, encode_and_generate(G, batch.x, z, k_e))
    updates, g_opt = adam(hp).update(grads, state.opt_state["generator"], g_params)
    return state.replace(
        params={**state.params, "generator": optax.apply_updates(g_params, updates)},
        batch_stats={**state.batch_stats, "generator": new_stats},
        opt_state={**state.opt_state, "generator": g_opt},
    ), {"g_loss": g_loss, **metrics}


def generator_bn_updates(structure: Structure, steps: int) -> dict[str, int]:
    """Per submodule of G's variables: E and G run in training mode once per D step and once
    more per G step, except VAE-GAN's decoder G, which runs twice in each (on E's codes and
    on the prior's: :func:`vaegan_outputs`)."""
    passes = steps + generator_steps(steps, structure.n_disc, structure.g_schedule)
    return {"encoder": passes, "generator": 2 * passes if _is_vaegan(structure) else passes}


@register_family("encoder")
def make() -> Family:
    return Family(
        name="encoder",
        init_optimizer=init_optimizer,
        update=update,
        generator_update=generator_update,
        generator_bn_updates=generator_bn_updates,
        generator=generator,
        discriminator=discriminator,
    )
