"""The semi-supervised family (docs/protocol.md §12.4): the GAN family's steps, plus a fixed
labelled subset of the train split that D classifies at every step.

A family of its own, not the ``conditional`` one: neither G nor D takes labels (the
conditional family asks G for classes), and D needs a second real batch, drawn from the
subset kept in the run's state. The subset (10 images per class) is chosen on the device at
step 0 from the run's seed (stream ``LABELLED``; the rows' ``seed`` column names it) and
kept in ``RunState.extra["labelled"]`` (indices into the train split, class-major), so it is
checkpointed and a resumed run keeps it. Every step draws ``batch_size`` of its images
(without replacement where the subset is at least a batch, as the authors' script cycles
through permutations of it); the unsupervised loss sees the ordinary minibatch of the whole
train split; G is trained by feature matching against the same real minibatch, on fresh z.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmark.training.base import (
    LABELLED,
    STEPS,
    Batch,
    Family,
    RunState,
    Structure,
    adam,
    apply_train,
)
from benchmark.training.families import gan, register_family
from losses import ssgan
from losses.base import Outputs
from models import priors

CATEGORIES = 10  # K where the structure names none


def subset_size(structure: Structure) -> int:
    return (structure.num_classes or CATEGORIES) * ssgan.LABELS_PER_CLASS


def init_optimizer(structure: Structure, params: dict) -> tuple[dict, dict]:
    """The GAN family's Adam states, and room for the labelled subset (filled at step 0)."""
    opt_state, extra = gan.init_optimizer(structure, params)
    return opt_state, {**extra, "labelled": jnp.zeros((subset_size(structure),), jnp.int32)}


def labelled_subset(structure: Structure, key: jax.Array, labels: jax.Array) -> jax.Array:
    """The run's labelled subset [K * 10] (train-split indices, class-major) from its root
    key."""
    return ssgan.labelled_indices(jax.random.fold_in(key, LABELLED), labels,
                                  structure.num_classes or CATEGORIES, ssgan.LABELS_PER_CLASS)


def draw(structure: Structure, state: RunState, batch: Batch, data, scale, labels, t):
    """Step ``t``'s labelled batch from the run's subset (chosen at step 0, then kept)."""
    if labels is None:
        raise ValueError("the semi-supervised family needs the train split's labels")
    subset = jax.lax.cond(t == 0, lambda: labelled_subset(structure, state.key, labels),
                          lambda: state.extra["labelled"])
    n, size = structure.batch_size, subset.shape[0]
    key = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(state.key, LABELLED), 1), t)
    idx = jnp.take(subset, jax.random.choice(key, size, (n,), replace=n > size))
    x = jnp.take(data, idx, axis=0).astype(jnp.float32) * scale
    y = jnp.take(labels, idx, axis=0).astype(jnp.int32)
    state = state.replace(extra={**state.extra, "labelled": subset})
    return state, batch.replace(labelled_x=x, labelled_y=y)


def update(structure: Structure, state: RunState, hp, batch: Batch, t):
    """The D update: D on the minibatch, on the labelled batch and on G(z) of the G of before
    the step (three passes, in that order); the objective gets the labelled batch's class
    logits and labels in ``aux_real``."""
    objective = structure.recipe.objective
    G, D = gan.generator(structure), gan.discriminator(structure)
    key = jax.random.fold_in(jax.random.fold_in(state.key, STEPS), t)
    k_z, _, k_zg = jax.random.split(key, 3)  # the GAN family's split: k_zg is G's fresh z
    z = priors.sample(k_z, (structure.batch_size, structure.z_dim), structure.recipe.latent)
    d_params, d_stats = state.params["discriminator"], state.batch_stats["discriminator"]
    fake, g_stats = apply_train(G, state.params["generator"], state.batch_stats["generator"], z)
    fake = jax.lax.stop_gradient(fake)

    def d_objective(dp):
        d_real, stats = apply_train(D, dp, d_stats, batch.x)
        d_labelled, stats = apply_train(D, dp, stats, batch.labelled_x)
        d_fake, stats = apply_train(D, dp, stats, fake)
        (d_real, aux_real), (d_fake, aux_fake) = gan.heads(d_real), gan.heads(d_fake)
        aux_real = {**aux_real, "labelled_class_logits": gan.heads(d_labelled)[1]["class_logits"],
                    "labelled_y": batch.labelled_y}
        out = Outputs(d_real, d_fake, y=batch.y, aux_real=aux_real, aux_fake=aux_fake)
        return objective.discriminator_loss(out, hp, state.extra), (stats, out)

    (d_loss, (d_stats, out)), grads = jax.value_and_grad(d_objective, has_aux=True)(d_params)
    updates, d_opt = adam(hp, "discriminator").update(
        grads, state.opt_state["discriminator"], d_params)
    new_state = state.replace(
        params={**state.params, "discriminator": optax.apply_updates(d_params, updates)},
        batch_stats={"generator": g_stats, "discriminator": d_stats},
        opt_state={**state.opt_state, "discriminator": d_opt},
    )
    return new_state, {"d_loss": d_loss}, {"z": z, "k_zg": k_zg, "out": out}


@register_family("semi_supervised")
def make() -> Family:
    return Family(
        name="semi_supervised",
        init_optimizer=init_optimizer,
        update=update,
        generator_update=gan.generator_update,  # feature matching, on fresh z
        after_step=gan.after_step,  # logs the labelled batch's error
        generator_bn_updates=gan.generator_bn_updates,
        generator=gan.generator,
        discriminator=gan.discriminator,
        draw=draw,
        classifies=True,
    )
