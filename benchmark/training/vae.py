"""The VAE family (docs/protocol.md §2.7): the encoder where D sits, the decoder as G, one
Adam over all variables on the negative ELBO."""

from __future__ import annotations

import flax.linen as nn
import jax
import optax

import models
from benchmark.training.base import STEPS, Family, RunState, Structure, adam, apply_train


def generator(structure: Structure) -> nn.Module:
    return models.make_generator(structure.image_shape, "relu")


def discriminator(structure: Structure) -> nn.Module:
    """The encoder (the D trunk with an fc(2 z_dim) head), with batch norm when the run's
    disc_bn is on (docs/protocol.md §2.7)."""
    return models.Encoder(structure.z_dim, structure.disc_bn)


def init_optimizer(structure: Structure, params: dict) -> tuple[dict, dict]:
    return {"joint": optax.adam(1.0).init(params)}, {}


def step(structure: Structure, state: RunState, hp, x, t, branch, g_step):
    """One Adam step on the negative ELBO of the minibatch ``x`` (``branch`` and ``g_step``
    do not apply: every step updates every variable)."""
    del branch, g_step
    loss = structure.loss
    G, E = generator(structure), discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)

    def objective(params):
        (mu, sigma), e_stats = apply_train(E, params["discriminator"],
                                           state.batch_stats["discriminator"], x)
        z = mu + sigma * jax.random.normal(key, mu.shape)
        logits, g_stats = apply_train(G, params["generator"], state.batch_stats["generator"], z,
                                      logits=True)
        value, parts = loss.negative_elbo(logits, x, mu, sigma)
        return value, ({"generator": g_stats, "discriminator": e_stats}, parts)

    (value, (stats, parts)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    updates, opt = adam(hp).update(grads, state.opt_state["joint"], state.params)
    new_state = state.replace(
        params=optax.apply_updates(state.params, updates),
        batch_stats=stats,
        opt_state={"joint": opt},
    )
    return new_state, {"loss": value, **parts}


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """The decoder runs once per step in training mode."""
    return steps


FAMILY = Family(
    name="vae",
    generator=generator,
    discriminator=discriminator,
    init_optimizer=init_optimizer,
    step=step,
    generator_bn_updates=generator_bn_updates,
)
