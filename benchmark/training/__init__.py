"""Training many runs at once: a run is a pure function of (seed, hyperparameters, structure).

- :mod:`~benchmark.training.base`: what changes the compiled program (``Structure``), a run's
  state, Adam, the streams of randomness, and what a model ``Family`` provides;
- :mod:`~benchmark.training.gan`, :mod:`~benchmark.training.vae` and the registry
  :mod:`~benchmark.training.families`: how each kind of model trains;
- :mod:`~benchmark.training.step`: one step, a segment of steps of vmapped runs;
- :mod:`~benchmark.training.plan`: the backend's compile plan behind one ``Trainer``;
- :mod:`~benchmark.training.generators`: the trained generators, for evaluation.
"""

from benchmark.training.base import (
    RunState,
    Structure,
    generator_steps,
    is_generator_step,
    matmul_precision,
)
from benchmark.training.families import FAMILIES, family
from benchmark.training.generators import (
    debias_generator_stats,
    generate,
    generator_apply,
    generator_bn_updates,
    generator_variables,
    parameters_finite,
    recompute_generator_stats,
)
from benchmark.training.plan import Plan, Trainer, default_plan, segment_length
from benchmark.training.step import init_run, init_runs, minibatch, train_segment, train_step

__all__ = [
    "FAMILIES", "Plan", "RunState", "Structure", "Trainer", "debias_generator_stats",
    "default_plan", "family",
    "generate", "generator_apply", "generator_bn_updates", "generator_steps",
    "generator_variables", "init_run", "init_runs", "is_generator_step", "matmul_precision",
    "minibatch", "parameters_finite", "recompute_generator_stats", "segment_length",
    "train_segment", "train_step",
]
