"""The multiscale family: LAPGAN's pyramid of conditional GANs, every level updated in one step
(docs/protocol.md §13.3).

As the GAN family, but D reads a pyramid: the real batch is split into its Laplacian pyramid
and conditioning images l_k (``models.architectures.lapgan.real_inputs``); G makes every
level's band for the *real* l_k (``LapganGenerator.bands``), as the paper trains each level;
D returns all levels' logits, so one objective on them is the levels' own losses together.
Sampling (evaluation) chains the levels: G's ``__call__``."""

from __future__ import annotations

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
from benchmark.training.families import gan, register_family
from losses.base import Outputs
from models import priors
from models.architectures import lapgan


def _real(structure: Structure, x: jax.Array):
    return lapgan.real_inputs(x, generator_module(structure).levels)


def _check(objective) -> None:
    if objective.penalty is not None or objective.update_extra_after_step:
        raise ValueError("the multiscale family trains objectives without a penalty or an "
                         "after-step pass; choose another objective")


def update(structure: Structure, state: RunState, hp, batch: Batch, t):
    """The D update of every level on the real pyramid and G's bands for the real l_k."""
    objective = structure.recipe.objective
    _check(objective)
    G, D = generator_module(structure), discriminator_module(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, _, k_zg = jax.random.split(key, 3)
    shape = (structure.batch_size, structure.z_dim)
    g_params, d_params = state.params["generator"], state.params["discriminator"]
    g_stats, d_stats = state.batch_stats["generator"], state.batch_stats["discriminator"]
    real = _real(structure, batch.x)
    z = priors.sample(k_z, shape, structure.recipe.latent)
    bands, g_stats, carry = gan.generator_pass(
        structure, gan.applied(G, z, real[1], method="bands"), g_params, g_stats)
    fake = (jax.lax.stop_gradient(bands), real[1])

    def d_objective(dp):
        d_real, stats = apply_train(D, dp, d_stats, real)
        d_fake, stats = apply_train(D, dp, stats, fake)
        out = Outputs(d_real, d_fake)
        return objective.discriminator_loss(out, hp, state.extra), (stats, out)

    (d_loss, (d_stats, out)), grads = jax.value_and_grad(d_objective, has_aux=True)(d_params)
    updates, d_opt = adam(hp, "discriminator").update(
        grads, state.opt_state["discriminator"], d_params)
    d_params = optax.apply_updates(d_params, updates)
    if objective.after_discriminator_update is not None:
        d_params = objective.after_discriminator_update(d_params, hp)
    new_state = state.replace(
        params={**state.params, "discriminator": d_params},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={**state.opt_state, "discriminator": d_opt},
    )
    return new_state, {"d_loss": d_loss}, {**carry, "z": z, "k_zg": k_zg, "out": out}


def generator_update(structure: Structure, state: RunState, hp, batch: Batch, t, carry):
    """Every level's G update against the updated D, conditioned on the real l_k; from the D
    step's pass of G where the carry holds it (:func:`gan.generator_gradient`)."""
    objective = structure.recipe.objective
    G, D = generator_module(structure), discriminator_module(structure)
    d_params, d_stats = state.params["discriminator"], state.batch_stats["discriminator"]
    real = _real(structure, batch.x)
    z = carry["z"]
    if objective.fresh_z_for_generator:
        z = priors.sample(carry["k_zg"], (structure.batch_size, structure.z_dim),
                          structure.recipe.latent)
    d_real = None
    if objective.generator_sees_real:
        d_real = apply_train(D, d_params, d_stats, real)[0]

    def loss_of(bands):
        d_fake, _ = apply_train(D, d_params, d_stats, (bands, real[1]))
        return objective.generator_loss(Outputs(d_real, d_fake), hp, state.extra)

    g_params = state.params["generator"]
    g_loss, grads, g_stats = gan.generator_gradient(
        state, carry, loss_of, gan.applied(G, z, real[1], method="bands"))
    updates, g_opt = adam(hp).update(grads, state.opt_state["generator"], g_params)
    new_state = state.replace(
        params={**state.params, "generator": optax.apply_updates(g_params, updates)},
        batch_stats={**state.batch_stats, "generator": g_stats},
        opt_state={**state.opt_state, "generator": g_opt},
    )
    return new_state, {"g_loss": g_loss}


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """As the GAN family's (LAPGAN's G has no batch norm, so the count is not used)."""
    return gan.generator_bn_updates(structure, steps)


@register_family("multiscale")
def make() -> Family:
    return Family(
        name="multiscale",
        init_optimizer=gan.init_optimizer,
        update=update,
        generator_update=generator_update,
        after_step=gan.after_step,
        generator_bn_updates=generator_bn_updates,
    )


