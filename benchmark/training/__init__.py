"""Training many runs at once: a run is a pure function of (seed, hyperparameters, structure).

- :mod:`~benchmark.training.base`: what changes the compiled program (``Structure``), a run's
  state, a minibatch (``Batch``), Adam, the streams of randomness, and what a model
  ``Family`` provides;
- :mod:`~benchmark.training.families` (``gan.py``, ``vae.py``, one file per family,
  registered with ``@register_family``): how each kind of model trains;
- :mod:`~benchmark.training.step`: one step, a segment of steps of vmapped runs (the one
  place that compiles the G schedule);
- :mod:`~benchmark.training.plan`: the backend's compile plan behind one ``Trainer``, and
  :func:`train`, training runs without the engine;
- :mod:`~benchmark.training.generators`: the trained generators, for evaluation.
"""

from benchmark.training.base import (
    Batch,
    Family,
    RunState,
    Structure,
    generator_steps,
    is_generator_step,
    matmul_precision,
)
from benchmark.training.families import FAMILIES, family, register_family
from benchmark.training.generators import (
    debias_generator_stats,
    generate,
    generator_apply,
    generator_bn_updates,
    generator_variables,
    parameters_finite,
    recompute_generator_stats,
)
from benchmark.training.plan import Plan, Trainer, default_plan, segment_length, train
from benchmark.training.step import (
    family_step,
    init_run,
    init_runs,
    minibatch,
    train_segment,
    train_step,
)

__all__ = [
    "FAMILIES", "Batch", "Family", "Plan", "RunState", "Structure", "Trainer",
    "debias_generator_stats", "default_plan", "family", "family_step", "register_family", "train",
    "generate", "generator_apply", "generator_bn_updates", "generator_steps",
    "generator_variables", "init_run", "init_runs", "is_generator_step", "matmul_precision",
    "minibatch", "parameters_finite", "recompute_generator_stats", "segment_length",
    "train_segment", "train_step",
]
