"""The VAE family (docs/protocol.md §2.7): the encoder where D sits, the decoder as G, one
Adam over all variables on the negative ELBO."""

from __future__ import annotations

import flax.linen as nn
import jax
import optax

from benchmark.training.base import (
    STEPS,
    Batch,
    Family,
    RunState,
    Structure,
    adam,
    apply_train,
    discriminator_module,
    generator_module,
)
from benchmark.training.families import register_family


def generator(structure: Structure) -> nn.Module:
    """The decoder: the architecture's G (``vae``: the InfoGAN-style G with ReLU)."""
    return generator_module(structure)


def discriminator(structure: Structure) -> nn.Module:
    """The encoder (``vae``: the D trunk with an fc(2 z_dim) head), with batch norm when the
    run's disc_bn is on (docs/protocol.md §2.7)."""
    return discriminator_module(structure)


def init_optimizer(structure: Structure, params: dict) -> tuple[dict, dict]:
    return {"joint": optax.adam(1.0).init(params)}, {}


def update(structure: Structure, state: RunState, hp, batch: Batch, t):
    """One Adam step on the negative ELBO of the minibatch (every step updates every
    variable)."""
    elbo = structure.recipe.objective
    x = batch.x
    G, E = generator(structure), discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)

    def objective(params):
        (mu, sigma), e_stats = apply_train(E, params["discriminator"],
                                           state.batch_stats["discriminator"], x)
        z = mu + sigma * jax.random.normal(key, mu.shape)
        logits, g_stats = apply_train(G, params["generator"], state.batch_stats["generator"], z,
                                      logits=True)
        value, parts = elbo.negative_elbo(logits, x, mu, sigma)
        return value, ({"generator": g_stats, "discriminator": e_stats}, parts)

    (value, (stats, parts)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    updates, opt = adam(hp).update(grads, state.opt_state["joint"], state.params)
    new_state = state.replace(
        params=optax.apply_updates(state.params, updates),
        batch_stats=stats,
        opt_state={"joint": opt},
    )
    return new_state, {"loss": value, **parts}, None


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """The decoder runs once per step in training mode."""
    return steps


@register_family("vae")
def make() -> Family:
    return Family(name="vae", init_optimizer=init_optimizer, update=update,
                  generator_bn_updates=generator_bn_updates, generator=generator,
                  discriminator=discriminator, discriminator_encodes=True)
