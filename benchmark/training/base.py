"""What every model family shares: the structure of a program, a run's state, the optimiser,
the streams of randomness, and what a family provides.

A run is a pure function of its seed: step ``t`` uses ``fold_in(fold_in(key, STEPS), t)``
and epoch ``e``'s shuffle ``fold_in(fold_in(key, SHUFFLE), e)`` (docs/protocol.md §4.6), so a
run resumed from a checkpoint replays exactly the same stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax
import flax.linen as nn
import jax
import optax

import models
from models.registry import Architecture, Model
from sweeps.runs import DEFAULT_G_SCHEDULE, RunSpec

# Streams folded into a run's key (LABELLED: the semi-supervised family's labelled subset).
INIT, STEPS, SHUFFLE, LABELLED = 0, 1, 2, 3
# sweeps.config.MATMUL_PRECISIONS -> jax's default_matmul_precision for float32 operands.
JAX_MATMUL_PRECISION = {"float32": "float32", "tf32": "tensorfloat32"}
ADAM_B2, ADAM_EPS = 0.999, 1e-8  # docs/protocol.md §4.1
# D's learning rate over G's, where a model has it (GRAN's, docs/protocol.md §13.4); 1 else.
D_LR_RATIO = "d_lr_ratio"


@dataclasses.dataclass(frozen=True)
class Structure:
    """Everything that changes the compiled program (hashable: a ``jit`` static argument)."""

    model: str
    image_shape: tuple[int, int, int]
    n_disc: int = 1
    disc_bn: bool = True
    options: tuple[tuple[str, str], ...] = ()
    batch_size: int = 64
    z_dim: int = models.Z_DIM
    g_schedule: str = DEFAULT_G_SCHEDULE  # sweeps.runs.G_SCHEDULES
    arch: str | None = None  # models.registered_architectures(); None: the model's default
    num_classes: int | None = None  # the data set's, for models that need labels

    @classmethod
    def of(cls, run: RunSpec, image_shape: tuple[int, int, int],
           num_classes: int | None = None) -> Structure:
        """The structure of ``run`` on a data set of ``image_shape`` (and ``num_classes``
        classes, kept only where the model needs labels)."""
        model, n_disc, disc_bn, options, g_schedule, arch = run.structure_key
        recipe = models.get(model)
        keep = num_classes if "labels" in recipe.needs else None
        return cls(model, tuple(image_shape), n_disc, disc_bn, options, g_schedule=g_schedule,
                   arch=None if arch == recipe.arch else arch, num_classes=keep)

    @property
    def recipe(self) -> Model:
        """The registered model, with this structure's static options."""
        return models.get(self.model, dict(self.options))

    @property
    def architecture(self) -> Architecture:
        return models.architecture(self.arch or self.recipe.arch)

    @property
    def needs_labels(self) -> bool:
        """Whether the step is handed the train split's labels (``train_segment``'s
        ``labels``): the model's recipe needs them. The one rule for the engine and the
        tools (bench, bound, gpu-check)."""
        return "labels" in self.recipe.needs

    def is_generator_step(self, t):
        """Whether step ``t`` updates G (:func:`is_generator_step`)."""
        return is_generator_step(t, self.n_disc, self.g_schedule)


def is_generator_step(t, n_disc: int, schedule: str = DEFAULT_G_SCHEDULE):
    """Whether step ``t`` (counted from 0) has a G update: the one rule for the device (``t`` a
    traced int32) and for the host (``t`` an int, the CPU plan's static choice).

    ``"v1"`` (compare_gan v1's ``run_single_train_step``, docs/protocol.md §4.2):
    ``(t - 1) % n_disc == 0`` or t = 0, so t = 0, 1, 1 + n_disc, ... (n_disc 5: 0, 1, 6,
    11, ...). ``"modulo"``: t = 0, n_disc, 2 n_disc, ... Both update G at every step for
    n_disc = 1.
    """
    if schedule == "v1":
        return (t == 0) | ((t - 1) % n_disc == 0)
    if schedule == "modulo":
        return t % n_disc == 0
    raise ValueError(f"unknown G schedule {schedule!r}")


def generator_steps(steps: int, n_disc: int, schedule: str = DEFAULT_G_SCHEDULE) -> int:
    """How many of the steps 0 .. ``steps`` - 1 update G (:func:`is_generator_step`)."""
    if steps <= 0:
        return 0
    if schedule == "v1":
        return 1 + -(-(steps - 1) // n_disc)
    if schedule == "modulo":
        return -(-steps // n_disc)
    raise ValueError(f"unknown G schedule {schedule!r}")


@flax.struct.dataclass
class RunState:
    """The whole state of one run (a pytree; stacked along a leading runs axis when batched)."""

    key: jax.Array  # uint32[2], the run's root key
    params: dict  # {"generator": ..., "discriminator": ...}
    batch_stats: dict  # same keys; empty dicts where a network has no batch norm
    opt_state: dict  # {"generator", "discriminator"} for GANs, {"joint"} for the VAE
    extra: dict  # per-loss state, e.g. BEGAN's k
    perm: jax.Array  # int32[num_train], the current epoch's order of the train split
    failed_step: jax.Array  # int32; -1 while healthy, else the first step that was not finite
    # int32; -1 while healthy, else which logged value (index in sorted name order) was not
    # finite at failed_step
    failed_value: jax.Array = -1


def matmul_precision(name: str):
    """A context in which jax traces matrix products and convolutions of float32 operands at
    ``name`` ("float32": full float32, jax's HIGHEST; "tf32": TensorFloat-32 inputs where the
    GPU has them, jax's HIGH), docs/protocol.md §4.8. The setting is part of jit's cache key,
    so programs traced under different precisions are compiled separately."""
    if name not in JAX_MATMUL_PRECISION:
        raise ValueError(f"unknown precision {name!r}; choose one of: "
                         f"{', '.join(JAX_MATMUL_PRECISION)}")
    return jax.default_matmul_precision(JAX_MATMUL_PRECISION[name])


def adam(hp: Mapping[str, jax.Array], network: str = "generator") -> optax.GradientTransformation:
    """Adam(lr, beta1, beta2, 1e-8) with this run's (traced) lr and beta1; no decay. beta2 is
    0.999 (§4.1) unless the model has it as a hyperparameter (SNGAN's 0.9, §13.2). For
    ``network="discriminator"`` the learning rate is lr times ``d_lr_ratio`` where the model
    has that hyperparameter (GRAN's 0.4, docs/protocol.md §13.4), else lr itself (ratio 1)."""
    if network not in ("generator", "discriminator"):
        raise ValueError(f"unknown network {network!r}; choose generator or discriminator")
    b2 = hp["beta2"] if "beta2" in hp else ADAM_B2
    lr = hp["lr"]
    if network == "discriminator" and D_LR_RATIO in hp:
        lr = lr * hp[D_LR_RATIO]
    return optax.adam(lr, b1=hp["beta1"], b2=b2, eps=ADAM_EPS)


def apply_train(module: nn.Module, params, stats, *args, **kwargs):
    """Apply in training mode, returning the output and the updated batch statistics."""
    out, updates = module.apply(
        {"params": params, "batch_stats": stats}, *args, train=True, mutable=["batch_stats"],
        **kwargs,
    )
    return out, dict(updates.get("batch_stats", {}))


@flax.struct.dataclass
class Batch:
    """One step's minibatch: images [B, h, w, c] in [0, 1] and their labels [B] (int32), or
    None where the data set has none or the model does not need them."""

    x: jax.Array
    y: jax.Array | None = None
    # A second, labelled minibatch drawn by the family (``Family.draw``: the semi-supervised
    # family's, from its fixed labelled subset), or None.
    labelled_x: jax.Array | None = None
    labelled_y: jax.Array | None = None


Metrics = dict[str, jax.Array]
# update(structure, state, hp, batch, t) -> (state, metrics, carry): every step.
Update = Callable[..., tuple[RunState, Metrics, Any]]
# generator_update(structure, state, hp, batch, t, carry) -> (state, metrics): G steps only.
GeneratorUpdate = Callable[..., tuple[RunState, Metrics]]
# after_step(structure, state, hp, batch, t, carry, metrics) -> (state, metrics): every step.
AfterStep = Callable[..., tuple[RunState, Metrics]]
# draw(structure, state, batch, data, scale, labels, t) -> (state, batch): every step, before
# the updates; what the family draws from the train split besides the minibatch.
Draw = Callable[..., tuple[RunState, Batch]]


def generator_module(structure: Structure) -> nn.Module:
    """G of the structure's architecture."""
    return structure.architecture.generator(structure)


def discriminator_module(structure: Structure) -> nn.Module:
    """D (the VAE: its encoder) of the structure's architecture."""
    return structure.architecture.discriminator(structure)


@dataclasses.dataclass(frozen=True)
class Family:
    """How one kind of model trains (docs/protocol.md §2): its networks, its optimiser state
    and its updates. Registered with ``@register_family`` (:mod:`benchmark.training.families`).

    ``init_optimizer(structure, params) -> (opt_state, extra)``; ``update`` (the GANs' D
    update) runs on every step and returns a ``carry`` for the later updates;
    ``generator_update`` (None: the family has no separate G steps) runs on the steps
    ``Structure.is_generator_step`` picks, and its metrics are NaN on the others;
    ``after_step`` (optional) closes every step. How "G step or not" is compiled is decided
    in one place, :func:`benchmark.training.step.train_step`: a family never sees it.
    ``generator_bn_updates(structure, steps)`` counts G's batch-norm updates in ``steps``
    steps. ``generator``/``discriminator`` build the networks (default: the
    structure's architecture's; the VAE's decoder and encoder sit where G and D sit).
    ``draw`` (optional) adds to the step's minibatch from the device-resident train split
    and its labels (the semi-supervised family's labelled batch); ``classifies``: D is trained
    as a K-class classifier, its ``"class_logits"`` head scored on the test split
    (``metrics.semi_supervised``); ``discriminator_encodes``: D's slot holds an encoder
    returning (mu, sigma) (the VAE), scored like an encoder held with G.
    """

    name: str
    init_optimizer: Callable[[Structure, dict], tuple[dict, dict]]
    update: Update
    generator_bn_updates: Callable[[Structure, int], int | Mapping[str, int]]
    generator_update: GeneratorUpdate | None = None
    after_step: AfterStep | None = None
    generator: Callable[[Structure], nn.Module] = generator_module
    discriminator: Callable[[Structure], nn.Module] = discriminator_module
    draw: Draw | None = None
    classifies: bool = False
    # D's slot holds an encoder, images -> (mu, sigma) (the VAE), scored by the encoder metric
    discriminator_encodes: bool = False
