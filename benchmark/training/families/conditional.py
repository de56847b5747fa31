"""The conditional family (docs/protocol.md §12.1-§12.3): CGAN, ACGAN and InfoGAN. As the GAN
family (§4.2: a D update every step, a G update on G steps, D applied to the real and the fake
batch separately), except that G is asked for classes the family draws, y' ~ U{0..K-1}
(ACGAN's c ~ p_c; InfoGAN's categorical code), not the real batch's: D sees (x, y) and
(G(z, y'), y') where its architecture takes labels. The objective's :class:`Outputs` carry
``y_fake`` = y' and, in ``aux_fake``, the latents ``z`` that made the fakes (InfoGAN's
continuous codes are z's last two coordinates)."""

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
    generator_steps,
)
from benchmark.training.families import gan, register_family
from benchmark.training.families.gan import discriminator, generator, heads, init_optimizer
from losses.base import Outputs
from models import priors

CATEGORIES = 10  # K where the data set gives none (InfoGAN's Cat(10))


def _real_labels(batch: Batch) -> dict:
    return {} if batch.y is None else {"labels": batch.y}


def update(structure: Structure, state: RunState, hp, batch: Batch, t):
    """The D update against G(z, y') of the G of before the step (the G step takes this pass
    of G where it can, :func:`gan.generator_pass`)."""
    objective = structure.recipe.objective
    G, D = generator(structure), discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, k_y = jax.random.split(key)
    n = structure.batch_size
    z = priors.sample(k_z, (n, structure.z_dim), structure.recipe.latent)
    y_fake = jax.random.randint(k_y, (n,), 0, structure.num_classes or CATEGORIES)
    d_params, d_stats = state.params["discriminator"], state.batch_stats["discriminator"]
    fake, g_stats, carry = gan.generator_pass(structure, gan.applied(G, z, labels=y_fake),
                                              state.params["generator"],
                                              state.batch_stats["generator"])
    fake = jax.lax.stop_gradient(fake)

    def d_objective(dp):
        d_real, stats = apply_train(D, dp, d_stats, batch.x, **_real_labels(batch))
        d_fake, stats = apply_train(D, dp, stats, fake, labels=y_fake)
        (d_real, aux_real), (d_fake, aux_fake) = heads(d_real), heads(d_fake)
        out = Outputs(d_real, d_fake, y=batch.y, y_fake=y_fake, aux_real=aux_real,
                      aux_fake={**aux_fake, "z": z})
        return objective.discriminator_loss(out, hp, state.extra), (stats, out)

    (d_loss, (d_stats, out)), grads = jax.value_and_grad(d_objective, has_aux=True)(d_params)
    updates, d_opt = adam(hp, "discriminator").update(
        grads, state.opt_state["discriminator"], d_params)
    new_state = state.replace(
        params={**state.params, "discriminator": optax.apply_updates(d_params, updates)},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={**state.opt_state, "discriminator": d_opt},
    )
    return new_state, {"d_loss": d_loss}, {**carry, "z": z, "y_fake": y_fake, "out": out}


def generator_update(structure: Structure, state: RunState, hp, batch: Batch, t, carry):
    """The G update on the same z and y', against the updated D (its statistics not kept);
    from the D step's pass of G where the carry holds it
    (:func:`gan.generator_gradient`)."""
    objective = structure.recipe.objective
    G, D = generator(structure), discriminator(structure)
    d_params, d_stats = state.params["discriminator"], state.batch_stats["discriminator"]
    z, y_fake = carry["z"], carry["y_fake"]
    d_real, aux_real = None, {}
    if objective.generator_sees_real:
        d_real, aux_real = heads(apply_train(D, d_params, d_stats, batch.x,
                                             **_real_labels(batch))[0])

    def loss_of(images):
        d_fake, aux_fake = heads(apply_train(D, d_params, d_stats, images, labels=y_fake)[0])
        out = Outputs(d_real, d_fake, y=batch.y, y_fake=y_fake, aux_real=aux_real,
                      aux_fake={**aux_fake, "z": z})
        return objective.generator_loss(out, hp, state.extra)

    g_params = state.params["generator"]
    g_loss, grads, g_stats = gan.generator_gradient(state, carry, loss_of,
                                                    gan.applied(G, z, labels=y_fake))
    updates, g_opt = adam(hp).update(grads, state.opt_state["generator"], g_params)
    return state.replace(
        params={**state.params, "generator": optax.apply_updates(g_params, updates)},
        batch_stats={**state.batch_stats, "generator": g_stats},
        opt_state={**state.opt_state, "generator": g_opt},
    ), {"g_loss": g_loss}


def after_step(structure: Structure, state: RunState, hp, batch: Batch, t, carry, metrics):
    """The objective's logged scalars (InfoGAN's categorical information), from the D pass."""
    objective = structure.recipe.objective
    logged = {"d_loss": metrics["d_loss"], "g_loss": metrics["g_loss"]}
    if objective.log_metrics is not None:
        logged.update(objective.log_metrics(state.extra, carry["out"], hp))
    return state, logged


def generator_bn_updates(structure: Structure, steps: int) -> int:
    """G runs in training mode once per D step and once more per G step."""
    return steps + generator_steps(steps, structure.n_disc, structure.g_schedule)


@register_family("conditional")
def make() -> Family:
    return Family(
        name="conditional",
        init_optimizer=init_optimizer,
        update=update,
        generator_update=generator_update,
        after_step=after_step,
        generator_bn_updates=generator_bn_updates,
        generator=generator,
        discriminator=discriminator,
    )
