"""The GAN family: one D update per step, a G update on the steps the run's G schedule
picks (compare_gan v1's by default: t = 0, 1, 1 + n_disc, ...; docs/protocol.md §4.2), with
the loss's own penalty, clipping and state."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import models
from benchmark.training.base import (
    STEPS,
    Family,
    RunState,
    Structure,
    adam,
    apply_train,
    generator_steps,
)
from models import priors


def generator(structure: Structure) -> nn.Module:
    return models.make_generator(structure.image_shape, "lrelu")


def discriminator(structure: Structure) -> nn.Module:
    loss = structure.loss
    return models.make_discriminator(loss.architecture, structure.image_shape, structure.disc_bn)


def init_optimizer(structure: Structure, params: dict) -> tuple[dict, dict]:
    """One Adam state for G and one for D (the state's structure does not depend on lr or
    beta1), and the loss's own state (BEGAN's k)."""
    adam_structure = optax.adam(1.0)
    opt_state = {name: adam_structure.init(p) for name, p in params.items()}
    return opt_state, structure.loss.init_extra()


def step(structure: Structure, state: RunState, hp, x, t, branch, g_step):
    """One D update on the minibatch ``x``, and the G update where step ``t`` has one.

    ``branch``/``g_step`` choose how "G step or not" is compiled (see
    :func:`benchmark.training.step.train_step`).
    """
    loss = structure.loss
    G, D = generator(structure), discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, k_penalty, k_zg = jax.random.split(key, 3)
    shape = (structure.batch_size, structure.z_dim)
    g_params, d_params = state.params["generator"], state.params["discriminator"]
    g_stats, d_stats = state.batch_stats["generator"], state.batch_stats["discriminator"]
    tx = adam(hp)

    # D update: D is applied separately to the real and the fake batch (docs/protocol.md
    # §3.2).
    z = priors.sample(k_z, shape, loss.latent)
    fake, g_stats = apply_train(G, g_params, g_stats, z)
    fake = jax.lax.stop_gradient(fake)

    def d_objective(dp):
        d_real, stats = apply_train(D, dp, d_stats, x)
        d_fake, stats = apply_train(D, dp, stats, fake)
        value = loss.discriminator_loss(d_real, d_fake, hp, state.extra)
        penalty = jnp.zeros(())
        if loss.penalty is not None:
            penalty = loss.penalty(lambda v: apply_train(D, dp, d_stats, v)[0], x, fake,
                                   k_penalty, hp)
        return value + penalty, (stats, d_real, d_fake, penalty)

    (d_loss, (d_stats, d_real, d_fake, penalty)), grads = jax.value_and_grad(
        d_objective, has_aux=True
    )(d_params)
    updates, d_opt = tx.update(grads, state.opt_state["discriminator"], d_params)
    d_params = optax.apply_updates(d_params, updates)
    if loss.after_discriminator_update is not None:
        d_params = loss.after_discriminator_update(d_params, hp)

    # G update on G steps (Structure.is_generator_step), against the updated D (its batch
    # statistics are not kept).
    def g_update(operand):
        g_params, g_stats, g_opt = operand
        z_g = priors.sample(k_zg, shape, loss.latent) if loss.fresh_z_for_generator else z

        def g_objective(gp):
            images, stats = apply_train(G, gp, g_stats, z_g)
            d_out, _ = apply_train(D, d_params, d_stats, images)
            return loss.generator_loss(d_out, hp, state.extra), stats

        (g_loss, g_stats), grads = jax.value_and_grad(g_objective, has_aux=True)(g_params)
        updates, g_opt = tx.update(grads, g_opt, g_params)
        return (optax.apply_updates(g_params, updates), g_stats, g_opt), g_loss

    def no_g_update(operand):
        return operand, jnp.full((), jnp.nan)

    g_operand = (g_params, g_stats, state.opt_state["generator"])
    if structure.n_disc == 1 or g_step is True:
        (g_params, g_stats, g_opt), g_loss = g_update(g_operand)
    elif g_step is False:
        (g_params, g_stats, g_opt), g_loss = no_g_update(g_operand)
    elif branch:
        (g_params, g_stats, g_opt), g_loss = jax.lax.cond(
            structure.is_generator_step(t), g_update, no_g_update, g_operand
        )
    else:  # compute the G update on every step and keep it on G steps only
        updated, g_loss = g_update(g_operand)
        is_g_step = structure.is_generator_step(t)
        (g_params, g_stats, g_opt) = jax.tree.map(
            lambda new, old: jnp.where(is_g_step, new, old), updated, g_operand
        )
        g_loss = jnp.where(is_g_step, g_loss, jnp.nan)

    if loss.update_extra_after_step:
        # v1's BEGAN hook (docs/protocol.md §9.2): D on the same x and on G(z), same z, with
        # the updated D and G, in training mode (both networks' BN averages move once more).
        fake_after, g_stats = apply_train(G, g_params, g_stats, z)
        d_real, d_stats = apply_train(D, d_params, d_stats, x)
        d_fake, d_stats = apply_train(D, d_params, d_stats, fake_after)

    metrics = {"d_loss": d_loss, "g_loss": g_loss}
    if loss.penalty is not None:
        metrics["penalty"] = penalty
    if loss.log_metrics is not None:
        metrics.update(loss.log_metrics(state.extra, d_real, d_fake, hp))
    extra = state.extra
    if loss.update_extra is not None:
        extra = loss.update_extra(extra, d_real, d_fake, hp)
    new_state = state.replace(
        params={"generator": g_params, "discriminator": d_params},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={"generator": g_opt, "discriminator": d_opt},
        extra=extra,
    )
    return new_state, metrics


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """G's batch norm is updated once per D step (G runs in training mode to make the fakes),
    once more per G step, and once more per step where the loss state is updated from a pass
    after the updates (BEGAN's ``k_update=after``)."""
    after = steps if structure.loss.update_extra_after_step else 0
    return steps + generator_steps(steps, structure.n_disc, structure.g_schedule) + after


FAMILY = Family(
    name="gan",
    generator=generator,
    discriminator=discriminator,
    init_optimizer=init_optimizer,
    step=step,
    generator_bn_updates=generator_bn_updates,
)
