"""The trained generators of a task's runs, as the metrics and sample grids see them."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

import models.layers
from benchmark.training.base import RunState, Structure
from benchmark.training.families import family
from benchmark.training.families.conditional import CATEGORIES


def generator_apply(structure: Structure):
    """``apply_fn(variables, z, labels=None) -> images`` of one run's G in inference mode
    (metrics use it); ``labels`` [n] asks a conditional G for samples of those classes.

    The same function object for every structure with the same G, so the metrics' jitted
    programs (static in ``apply_fn``) compile once for all the GANs of a data set.
    """
    return _generator_apply(family(structure).generator(structure))


@functools.cache
def _generator_apply(G: nn.Module):
    def apply_fn(variables, z, labels=None):
        if labels is None:
            return G.apply(variables, z, train=False)
        return G.apply(variables, z, train=False, labels=labels)

    return apply_fn


def generator_encode(structure: Structure):
    """``encode_fn(variables, x) -> codes`` of a G that holds an encoder (the encoder family's
    ``GeneratorWithEncoder``: E's mean in inference mode), on G's variables; else None."""
    G = family(structure).generator(structure)
    return _generator_encode(G) if hasattr(G, "encode") else None


@functools.cache
def _generator_encode(G: nn.Module):
    def encode_fn(variables, x):
        return G.apply(variables, x, train=False, method=type(G).encode)[1]

    return encode_fn


def encoder_of(structure: Structure):
    """(``encode_fn(variables, x) -> codes``, ``variables_of(states)``: the batched variables
    it takes) of a model with an encoder, in inference mode (a stochastic one's mean); None
    for a model without one. An encoder held with G (the encoder family) takes G's variables;
    the VAE's, in D's slot (``Family.discriminator_encodes``), D's."""
    trains = family(structure)
    if trains.discriminator_encodes:
        return _discriminator_encode(trains.discriminator(structure)), discriminator_variables
    encode = generator_encode(structure)
    return None if encode is None else (encode, generator_variables)


@functools.cache
def _discriminator_encode(D: nn.Module):
    def encode_fn(variables, x):
        return D.apply(variables, x, train=False)[0]

    return encode_fn


def discriminator_classify(structure: Structure):
    """``classify_fn(variables, x) -> class logits [n, K]`` of a D its family trains as a
    classifier (``Family.classifies``: its "class_logits" head, inference mode), on D's
    variables; else None."""
    trains = family(structure)
    return _discriminator_classify(trains.discriminator(structure)) if trains.classifies else None


@functools.cache
def _discriminator_classify(D: nn.Module):
    def classify_fn(variables, x):
        return D.apply(variables, x, train=False)[1]["class_logits"]

    return classify_fn


def discriminator_variables(states: RunState) -> dict:
    """The batched D variables {"params", "batch_stats"} of a group of runs."""
    return {"params": states.params["discriminator"],
            "batch_stats": states.batch_stats["discriminator"]}


def generator_classes(structure: Structure) -> int | None:
    """The number of classes a G can be asked for (a conditional architecture trained on the
    data set's labels); None otherwise, also for a model that needs labels only for its D
    (the semi-supervised GAN)."""
    return structure.num_classes if structure.architecture.conditional else None


def generator_codes(structure: Structure) -> int | None:
    """The number of values of the categorical code a G takes as its labels without being
    trained on labels (InfoGAN: a conditional architecture in a model that needs no labels);
    None otherwise."""
    if structure.architecture.conditional and "labels" not in structure.recipe.needs:
        return CATEGORIES
    return None


def generator_variables(states: RunState) -> dict:
    """The batched G variables {"params", "batch_stats"} of a task's runs."""
    return {"params": states.params["generator"],
            "batch_stats": states.batch_stats["generator"]}


def generator_bn_updates(structure: Structure, steps: int) -> int | Mapping[str, int]:
    """How many times G's batch-norm running averages were updated in ``steps`` steps: one
    count, or one per submodule of G's variables where they differ (the encoder family's
    ``{"generator": ..., "encoder": ...}``: VAE-GAN's decoder runs twice per pass, E once)."""
    return family(structure).generator_bn_updates(structure, steps)


def debias_generator_stats(states: RunState, updates: int | Mapping[str, int]) -> RunState:
    """G's running averages zero-debiased after ``updates`` EMA updates (as Adam debiases its
    moments): mean / (1 - d^n), (var - d^n) / (1 - d^n) for flax's initial mean 0, var 1.
    ``updates``: one count for all of G's averages, or a count per top-level submodule of
    G's variables (:func:`generator_bn_updates`).

    Used by short profiles only: after 50 updates at decay 0.999 the raw averages are still
    95% their initial values and every model's inference-mode samples are uniform grey
    (measured); after the paper's thousands of steps the correction is below 1%.
    """

    def debiased(tree, n):
        w = models.layers.BN_DECAY ** n
        if n <= 0 or w == 0.0:
            return tree

        def fix(path, x):
            name = getattr(path[-1], "key", None)
            if name == "mean":
                return x / (1.0 - w)
            if name == "var":
                return jnp.maximum((x - w) / (1.0 - w), 0.0)
            return x

        return jax.tree_util.tree_map_with_path(fix, tree)

    stats = dict(states.batch_stats)
    tree = stats["generator"]
    stats["generator"] = ({part: debiased(t, updates[part]) for part, t in tree.items()}
                          if isinstance(updates, Mapping) else debiased(tree, updates))
    return states.replace(batch_stats=stats)


@functools.partial(jax.jit, static_argnames=("structure",))
def recompute_generator_stats(states: RunState, z: jax.Array, *, structure: Structure,
                              x: jax.Array | None = None) -> RunState:
    """G's batch-norm averages replaced by the mean over the batches ``z`` [K, B, z_dim] of
    the batch statistics of G's training-mode passes ("precise BN", Wu and Johnson 2021),
    every run on the same latents; an encoder held with G (the encoder family's
    ``GeneratorWithEncoder``) gets its own from its training-mode passes on the batches of
    images ``x`` [K', B', h, w, c], or keeps its running averages where ``x`` is None; so does
    the VAE's encoder in D's slot (``Family.discriminator_encodes``).

    Used by the ``preview`` profile: after a few hundred steps the running averages (even
    debiased) still mix in the statistics of G's first steps, when its activations were
    different, and inference-mode samples come out blurrier than G draws in training
    (measured: docs/usage.md, "The preview profile"). With one batch equal to the evaluation
    latents, inference mode reproduces training mode exactly (tested; for E on images too).
    G's pass on z updates only G's layers; E's statistics are never taken from it (the pass
    leaves them at the zeros it started from, which would normalise E by a zero variance).
    """
    trains = family(structure)
    G = trains.generator(structure)
    keep = 1.0 - models.layers.BN_DECAY

    def mean_stats(params, stats, batches, module=G, **kw):
        zeroed = jax.tree.map(jnp.zeros_like, stats)

        def batch_stats(b):  # the update from zero averages is (1 - decay) x the batch's
            _, new = module.apply({"params": params, "batch_stats": zeroed}, b, train=True,
                                  mutable=["batch_stats"], **kw)
            return jax.tree.map(lambda s: s / keep, new["batch_stats"])

        return jax.tree.map(lambda s: jnp.mean(s, axis=0), jax.lax.map(batch_stats, batches))

    def one_run(params, stats):
        new = mean_stats(params, stats, z)
        if "encoder" not in stats:  # no encoder held with G
            return new
        encoder = (stats["encoder"] if x is None  # E's running averages as trained
                   else mean_stats(params, stats, x, method=type(G).encode)["encoder"])
        return {**new, "encoder": encoder}

    stats = dict(states.batch_stats)
    stats["generator"] = jax.vmap(one_run)(states.params["generator"], stats["generator"])
    if x is not None and trains.discriminator_encodes and jax.tree.leaves(stats["discriminator"]):
        # the VAE's encoder (in D's slot), from its training-mode passes on the images
        D = trains.discriminator(structure)
        stats["discriminator"] = jax.vmap(lambda p, s: mean_stats(p, s, x, module=D))(
            states.params["discriminator"], stats["discriminator"])
    return states.replace(batch_stats=stats)


@functools.partial(jax.jit, static_argnames=("structure",))
def generate(states: RunState, z: jax.Array, *, structure: Structure) -> jax.Array:
    """Samples [runs, n, h, w, c] of every run's G (inference mode) on the same latents z."""
    apply_fn = generator_apply(structure)
    return jax.vmap(apply_fn, in_axes=(0, None))(generator_variables(states), z)


@jax.jit
def parameters_finite(states: RunState) -> jax.Array:
    """bool[runs]: every parameter of the run is finite."""
    leaves = jax.tree.leaves(states.params)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)
                              for x in leaves]), axis=0)
