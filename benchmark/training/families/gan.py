"""The GAN family: one D update per step, a G update on the steps the run's G schedule
picks (compare_gan v1's by default: t = 0, 1, 1 + n_disc, ...; docs/protocol.md §4.2), with
the objective's own penalty, clipping and state (``losses.base.Objective``)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
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
    discriminator_module,
    generator_module,
    generator_steps,
)
from benchmark.training.families import register_family
from losses.base import Outputs
from models import priors
from models.layers import only_batch_norm, repeat_batch_norm_update


def generator(structure: Structure) -> nn.Module:
    return generator_module(structure)


def discriminator(structure: Structure) -> nn.Module:
    return discriminator_module(structure)


def heads(out: Any) -> tuple[jax.Array, dict]:
    """D's main output [B] and its other heads: D returns ``main`` or ``(main, {name: head})``."""
    return (out[0], dict(out[1])) if isinstance(out, tuple) else (out, {})


def labels_of(structure: Structure, batch: Batch) -> dict:
    """``{"labels": y}`` for a conditional architecture (G makes fakes of the real batch's
    classes, D sees each batch's classes), else {}."""
    return {"labels": batch.y} if structure.architecture.conditional else {}


def init_optimizer(structure: Structure, params: dict) -> tuple[dict, dict]:
    """One Adam state for G and one for D (the state's structure does not depend on lr or
    beta1), and the objective's own state (BEGAN's k)."""
    adam_structure = optax.adam(1.0)
    opt_state = {name: adam_structure.init(p) for name, p in params.items()}
    return opt_state, structure.recipe.objective.init_extra()


def reuses_generator_pass(structure: Structure, g_stats: dict) -> bool:
    """Whether the G update takes the D step's pass of G (docs/protocol.md §4.2): it does where
    G's update uses the D step's z and a second training-mode pass would only move G's
    batch-norm averages again (:func:`models.layers.only_batch_norm`). G's parameters do not
    change in the D step, so that pass is the G step's; XLA does not merge the two."""
    return (not structure.recipe.objective.fresh_z_for_generator) and only_batch_norm(g_stats)


def applied(G: nn.Module, *args, **kwargs):
    """G's training-mode pass on ``args`` as a function ``(params, stats) -> (out, stats)``,
    the form :func:`generator_pass` and :func:`generator_gradient` take."""
    return lambda params, stats: apply_train(G, params, stats, *args, **kwargs)


def generator_pass(structure: Structure, pass_of, g_params, g_stats):
    """G's training-mode pass of the D step, ``pass_of(params, stats) -> (out, stats)``
    (:func:`applied`): ``(out, G's new statistics, carry)``. Where
    :func:`reuses_generator_pass`, the carry's ``"g_pass"`` keeps the pass with its pullback
    (``jax.vjp``) for :func:`generator_gradient`; else the carry is empty."""
    if not reuses_generator_pass(structure, g_stats):
        out, stats = pass_of(g_params, g_stats)
        return out, stats, {}
    out, pullback, stats = jax.vjp(lambda gp: pass_of(gp, g_stats), g_params, has_aux=True)
    return out, stats, {"g_pass": {"out": out, "pullback": pullback, "stats_before": g_stats}}


def generator_gradient(state: RunState, carry: dict, loss_of, pass_of):
    """G's loss ``loss_of(out)`` of its pass ``pass_of`` (:func:`applied`), its gradient with
    respect to G's parameters and G's new batch statistics. From the D step's pass where the
    carry holds it (:func:`generator_pass`): that pass's pullback of the loss's gradient with
    respect to the pass's output, and the second update of G's batch-norm averages that a
    second pass would have made (:func:`models.layers.repeat_batch_norm_update`); else G
    runs again."""
    if "g_pass" in carry:
        g_pass = carry["g_pass"]
        loss, d_out = jax.value_and_grad(loss_of)(g_pass["out"])
        (grads,) = g_pass["pullback"](d_out)
        stats = repeat_batch_norm_update(g_pass["stats_before"],
                                         state.batch_stats["generator"])
        return loss, grads, stats

    def g_objective(gp):
        out, stats = pass_of(gp, state.batch_stats["generator"])
        return loss_of(out), stats

    (loss, stats), grads = jax.value_and_grad(g_objective, has_aux=True)(
        state.params["generator"])
    return loss, grads, stats


def update(structure: Structure, state: RunState, hp, batch: Batch, t):
    """The D update on the minibatch, against G(z) of the G of before the step (G runs in
    training mode, so its batch statistics move; a conditional architecture's G and D get
    the batch's labels, :func:`labels_of`). D is applied separately to the real and
    the fake batch (docs/protocol.md §3.2). Returns the carry of the G update and the hook:
    where :func:`reuses_generator_pass`, it holds G's pass with its pullback
    (:func:`generator_pass`)."""
    objective = structure.recipe.objective
    x = batch.x
    G, D = generator(structure), discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, k_penalty, k_zg = jax.random.split(key, 3)
    shape = (structure.batch_size, structure.z_dim)
    g_params, d_params = state.params["generator"], state.params["discriminator"]
    g_stats, d_stats = state.batch_stats["generator"], state.batch_stats["discriminator"]

    cond = labels_of(structure, batch)
    z = priors.sample(k_z, shape, structure.recipe.latent)
    fake, g_stats, carry = generator_pass(structure, applied(G, z, **cond), g_params, g_stats)
    fake = jax.lax.stop_gradient(fake)

    def d_objective(dp):
        d_real, stats = apply_train(D, dp, d_stats, x, **cond)
        d_fake, stats = apply_train(D, dp, stats, fake, **cond)
        (d_real, aux_real), (d_fake, aux_fake) = heads(d_real), heads(d_fake)
        out = Outputs(d_real, d_fake, y=batch.y, aux_real=aux_real, aux_fake=aux_fake)
        value = objective.discriminator_loss(out, hp, state.extra)
        penalty = jnp.zeros(())
        if objective.penalty is not None:
            penalty = objective.penalty(
                lambda v: heads(apply_train(D, dp, d_stats, v, **cond)[0])[0], x, fake,
                k_penalty, hp)
        return value + penalty, (stats, out, penalty)

    (d_loss, (d_stats, out, penalty)), grads = jax.value_and_grad(
        d_objective, has_aux=True
    )(d_params)
    updates, d_opt = adam(hp, "discriminator").update(
        grads, state.opt_state["discriminator"], d_params)
    d_params = optax.apply_updates(d_params, updates)
    if objective.after_discriminator_update is not None:
        d_params = objective.after_discriminator_update(d_params, hp)

    metrics = {"d_loss": d_loss}
    if objective.penalty is not None:
        metrics["penalty"] = penalty
    new_state = state.replace(
        params={**state.params, "discriminator": d_params},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={**state.opt_state, "discriminator": d_opt},
    )
    return new_state, metrics, {**carry, "z": z, "k_zg": k_zg, "out": out}


def generator_update(structure: Structure, state: RunState, hp, batch: Batch, t, carry):
    """The G update, against the updated D (its batch statistics are not kept). G's loss sees
    D on the real batch only where the objective asks (``generator_sees_real``). G's gradient
    comes from the D step's pass where the carry holds it (:func:`generator_gradient`)."""
    objective = structure.recipe.objective
    G, D = generator(structure), discriminator(structure)
    d_params, d_stats = state.params["discriminator"], state.batch_stats["discriminator"]
    z = carry["z"]
    if objective.fresh_z_for_generator:
        z = priors.sample(carry["k_zg"], (structure.batch_size, structure.z_dim),
                          structure.recipe.latent)
    cond = labels_of(structure, batch)
    d_real, aux_real = None, {}
    if objective.generator_sees_real:
        d_real, aux_real = heads(apply_train(D, d_params, d_stats, batch.x, **cond)[0])

    def loss_of(images):
        d_fake, aux_fake = heads(apply_train(D, d_params, d_stats, images, **cond)[0])
        out = Outputs(d_real, d_fake, y=batch.y, aux_real=aux_real, aux_fake=aux_fake)
        return objective.generator_loss(out, hp, state.extra)

    g_params = state.params["generator"]
    g_loss, grads, g_stats = generator_gradient(state, carry, loss_of, applied(G, z, **cond))
    updates, g_opt = adam(hp).update(grads, state.opt_state["generator"], g_params)
    new_state = state.replace(
        params={**state.params, "generator": optax.apply_updates(g_params, updates)},
        batch_stats={**state.batch_stats, "generator": g_stats},
        opt_state={**state.opt_state, "generator": g_opt},
    )
    return new_state, {"g_loss": g_loss}


def after_step(structure: Structure, state: RunState, hp, batch: Batch, t, carry, metrics):
    """The objective's state update and logged scalars, from the step's D pass or (v1's
    BEGAN hook, docs/protocol.md §9.2) from D on the same x and on G(z), same z, with the
    updated D and G, in training mode (both networks' BN averages move once more)."""
    objective = structure.recipe.objective
    out = carry["out"]
    if objective.update_extra_after_step:
        G, D = generator(structure), discriminator(structure)
        cond = labels_of(structure, batch)
        g_params, d_params = state.params["generator"], state.params["discriminator"]
        fake_after, g_stats = apply_train(G, g_params, state.batch_stats["generator"],
                                          carry["z"], **cond)
        d_real, d_stats = apply_train(D, d_params, state.batch_stats["discriminator"], batch.x,
                                      **cond)
        d_fake, d_stats = apply_train(D, d_params, d_stats, fake_after, **cond)
        (d_real, aux_real), (d_fake, aux_fake) = heads(d_real), heads(d_fake)
        out = Outputs(d_real, d_fake, y=batch.y, aux_real=aux_real, aux_fake=aux_fake)
        state = state.replace(batch_stats={"generator": g_stats, "discriminator": d_stats})
    logged = {"d_loss": metrics["d_loss"], "g_loss": metrics["g_loss"]}
    logged.update({k: v for k, v in metrics.items() if k not in logged})
    if objective.log_metrics is not None:
        logged.update(objective.log_metrics(state.extra, out, hp))
    if objective.update_extra is not None:
        state = state.replace(extra=objective.update_extra(state.extra, out, hp))
    return state, logged


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """G's batch norm is updated once per D step (G runs in training mode to make the fakes),
    once more per G step, and once more per step where the objective's state is updated from
    a pass after the updates (BEGAN's ``k_update=after``)."""
    after = steps if structure.recipe.objective.update_extra_after_step else 0
    return steps + generator_steps(steps, structure.n_disc, structure.g_schedule) + after


@register_family("gan")
def make() -> Family:
    return Family(
        name="gan",
        init_optimizer=init_optimizer,
        update=update,
        generator_update=generator_update,
        after_step=after_step,
        generator_bn_updates=generator_bn_updates,
        generator=generator,
        discriminator=discriminator,
    )
