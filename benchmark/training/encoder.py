"""The encoder family's updates: BiGAN, ALI and VAE-GAN (docs/protocol.md §11.5, §11.6), as
pure functions of the networks' variables.

BiGAN/ALI: a D update on pairs (x, E(x)) against (G(z), z), then one joint update of E and G
against the updated D. VAE-GAN: a D update on x against Dec(Enc(x)) and Dec(z_p), then the
encoder and the decoder updated on their own losses (the paper's split), against the updated
D. The networks sit in the state as {"generator", "discriminator", "encoder"}.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from losses import bigan as bigan_loss
from losses import vaegan as vaegan_loss
from models.bigan import DeterministicEncoder, JointDiscriminator, StochasticEncoder
from models.infogan import Generator
from models.vae import Encoder as GaussianEncoder
from models.vaegan import FeatureDiscriminator

METHODS = ("bigan", "ali", "vaegan")
PRIORS = {"bigan": "uniform", "ali": "normal", "vaegan": "normal"}


@dataclasses.dataclass(frozen=True)
class Setup:
    """The static shape of an encoder run (hashable)."""

    method: str
    image_shape: tuple[int, int, int]
    disc_bn: bool = True
    batch_size: int = 64
    z_dim: int = 64
    decoder_gan: str = "minimax"  # VAE-GAN's decoder GAN term: "minimax" or "non_saturating"

    def networks(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """(G, D, E)."""
        G = Generator(self.image_shape)
        if self.method == "vaegan":
            return G, FeatureDiscriminator(self.disc_bn), GaussianEncoder(self.z_dim, self.disc_bn)
        E = (DeterministicEncoder if self.method == "bigan" else StochasticEncoder)(
            self.z_dim, self.disc_bn)
        return G, JointDiscriminator(self.disc_bn), E

    def prior(self, key: jax.Array, n: int) -> jax.Array:
        if PRIORS[self.method] == "uniform":
            return jax.random.uniform(key, (n, self.z_dim), minval=-1.0, maxval=1.0)
        return jax.random.normal(key, (n, self.z_dim))


def _apply(module, params, stats, *args, **kwargs):
    out, updates = module.apply({"params": params, "batch_stats": stats}, *args, train=True,
                                mutable=["batch_stats"], **kwargs)
    return out, dict(updates.get("batch_stats", {}))


def _vars(v) -> tuple[dict, dict]:
    return v["params"], dict(v.get("batch_stats", {}))


def init(setup: Setup, key: jax.Array) -> tuple[dict, dict]:
    """(params, batch_stats), each {"generator", "discriminator", "encoder"}."""
    G, D, E = setup.networks()
    k_g, k_d, k_e = jax.random.split(key, 3)
    x, z = jnp.zeros((2, *setup.image_shape)), jnp.zeros((2, setup.z_dim))
    parts = {
        "generator": _vars(G.init(k_g, z, train=False)),
        "discriminator": _vars(D.init(k_d, x, train=False) if setup.method == "vaegan"
                               else D.init(k_d, x, z, train=False)),
        "encoder": _vars(E.init(k_e, x, train=False)),
    }
    return ({k: v[0] for k, v in parts.items()}, {k: v[1] for k, v in parts.items()})


def init_optimizer(params: dict) -> dict:
    adam_structure = optax.adam(1.0)
    return {name: adam_structure.init(p) for name, p in params.items()}


def encode(setup: Setup, E: nn.Module, params, stats, x, key=None, train=True):
    """(z, (mu, sigma) or None) of images x; ALI's and VAE-GAN's z are reparametrised draws
    when ``key`` is given, else their means."""
    if not train:
        out = E.apply({"params": params, "batch_stats": stats}, x, train=False)
        return (out if setup.method == "bigan" else out[0]), stats
    if setup.method == "bigan":
        return _apply(E, params, stats, x)
    if setup.method == "ali":
        (z, mu, sigma), stats = _apply(E, params, stats, x, key=key)
        return (z, mu, sigma), stats
    (mu, sigma), stats = _apply(E, params, stats, x)
    z = mu if key is None else mu + sigma * jax.random.normal(key, mu.shape, mu.dtype)
    return (z, mu, sigma), stats


def step(setup: Setup, params: dict, stats: dict, opt_state: dict, hp: Mapping,
         batch: Mapping[str, jax.Array], key: jax.Array, tx: optax.GradientTransformation,
         update_generator: bool = True) -> tuple[dict, dict, dict, dict[str, Any]]:
    """One D update, then (if ``update_generator``) the E and G updates."""
    if setup.method == "vaegan":
        return _vaegan_step(setup, params, stats, opt_state, hp, batch, key, tx, update_generator)
    return _bigan_step(setup, params, stats, opt_state, hp, batch, key, tx, update_generator)


def pairs(setup, G, D, E, gp, ep, dp, stats, x, z, k_e, d_stats):
    """D's logits on the real pairs (x, E(x)) and the fake pairs (G(z), z):
    ({"d_real", "d_fake"}, G's, E's and D's new batch statistics)."""
    z_hat, e_stats = encode(setup, E, ep, stats["encoder"], x, k_e)
    if setup.method == "ali":
        z_hat = z_hat[0]
    fake, g_stats = _apply(G, gp, stats["generator"], z)
    d_real, d_stats = _apply(D, dp, d_stats, x, z_hat)
    d_fake, d_stats = _apply(D, dp, d_stats, fake, z)
    return {"d_real": d_real, "d_fake": d_fake}, g_stats, e_stats, d_stats


def _bigan_step(setup, params, stats, opt_state, hp, batch, key, tx, update_generator):
    G, D, E = setup.networks()
    k_z, k_e = jax.random.split(key)
    x, z = batch["x"], setup.prior(k_z, setup.batch_size)
    gp, ep = params["generator"], params["encoder"]

    def d_objective(dp):
        out, g_stats, e_stats, d_stats = pairs(
            setup, G, D, E, jax.lax.stop_gradient(gp), jax.lax.stop_gradient(ep), dp, stats, x,
            z, k_e, stats["discriminator"])
        return bigan_loss.discriminator_loss(out, hp), (g_stats, e_stats, d_stats, out)

    (d_loss, (g_stats, e_stats, d_stats, out)), grads = jax.value_and_grad(
        d_objective, has_aux=True)(params["discriminator"])
    updates, d_opt = tx.update(grads, opt_state["discriminator"], params["discriminator"])
    d_params = optax.apply_updates(params["discriminator"], updates)
    logs = {"d_loss": d_loss, "d_real": jnp.mean(out["d_real"]), "d_fake": jnp.mean(out["d_fake"])}
    new_opt = dict(opt_state, discriminator=d_opt)
    if update_generator:
        def ge_objective(ge):
            out, g_s, e_s, _ = pairs(setup, G, D, E, ge["generator"], ge["encoder"], d_params,
                                      stats, x, z, k_e, d_stats)
            return bigan_loss.generator_loss(out, hp), (g_s, e_s)

        ge = {"generator": gp, "encoder": ep}
        (g_loss, (g_stats, e_stats)), grads = jax.value_and_grad(ge_objective, has_aux=True)(ge)
        for name in ge:
            updates, new_opt[name] = tx.update(grads[name], opt_state[name], ge[name])
            ge[name] = optax.apply_updates(ge[name], updates)
        gp, ep = ge["generator"], ge["encoder"]
        logs["g_loss"] = g_loss
    return ({"generator": gp, "discriminator": d_params, "encoder": ep},
            {"generator": g_stats, "discriminator": d_stats, "encoder": e_stats}, new_opt, logs)


def _vaegan_step(setup, params, stats, opt_state, hp, batch, key, tx, update_generator):
    G, D, E = setup.networks()
    k_e, k_p = jax.random.split(key)
    x, z_p = batch["x"], setup.prior(k_p, setup.batch_size)
    decoder_gan = (vaegan_loss.decoder_loss if setup.decoder_gan == "minimax"
                   else vaegan_loss.decoder_loss_non_saturating)

    def forward(ep, gp, dp, d_stats):
        (z, mu, sigma), e_stats = encode(setup, E, ep, stats["encoder"], x, k_e)
        recon, g_stats = _apply(G, gp, stats["generator"], z)
        prior_images, g_stats = _apply(G, gp, g_stats, z_p)
        real, d_stats = _apply(D, dp, d_stats, x)
        rec, d_stats = _apply(D, dp, d_stats, recon)
        pri, d_stats = _apply(D, dp, d_stats, prior_images)
        out = {"mu": mu, "sigma": sigma, "features_real": real["features"],
               "features_recon": rec["features"], "d_real": real["logit"],
               "d_recon": rec["logit"], "d_prior": pri["logit"]}
        return out, (e_stats, g_stats, d_stats)

    ep, gp = params["encoder"], params["generator"]

    def d_objective(dp):
        out, new_stats = forward(jax.lax.stop_gradient(ep), jax.lax.stop_gradient(gp), dp,
                                 stats["discriminator"])
        return vaegan_loss.discriminator_loss(out, hp), (new_stats, out)

    (d_loss, ((e_stats, g_stats, d_stats), out)), grads = jax.value_and_grad(
        d_objective, has_aux=True)(params["discriminator"])
    updates, d_opt = tx.update(grads, opt_state["discriminator"], params["discriminator"])
    d_params = optax.apply_updates(params["discriminator"], updates)
    logs = {"d_loss": d_loss, "kl": vaegan_loss.prior_loss(out),
            "llike": vaegan_loss.feature_reconstruction(out)}
    new_opt = dict(opt_state, discriminator=d_opt)
    if update_generator:
        def enc_objective(e):  # the paper's split: L_prior + L_llike for the encoder
            return vaegan_loss.encoder_loss(forward(e, gp, d_params, d_stats)[0], hp)

        def dec_objective(g):  # gamma L_llike + the GAN terms for the decoder
            out, new_stats = forward(ep, g, d_params, d_stats)
            return decoder_gan(out, hp), new_stats

        enc_grads = jax.grad(enc_objective)(ep)
        (g_loss, (e_stats, g_stats, _)), dec_grads = jax.value_and_grad(
            dec_objective, has_aux=True)(gp)
        updates, new_opt["encoder"] = tx.update(enc_grads, opt_state["encoder"], ep)
        ep = optax.apply_updates(ep, updates)
        updates, new_opt["generator"] = tx.update(dec_grads, opt_state["generator"], gp)
        gp = optax.apply_updates(gp, updates)
        logs["g_loss"] = g_loss
    return ({"generator": gp, "discriminator": d_params, "encoder": ep},
            {"generator": g_stats, "discriminator": d_stats, "encoder": e_stats}, new_opt, logs)
