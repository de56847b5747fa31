"""The default configuration, every key with its default (``sweeps.config`` explains the
sections). It is the paper's protocol where the paper fixes a value; the profiles change it."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import ml_collections
from ml_collections import config_dict

from metrics.columns import SETTINGS


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "default"
    c.description = ""

    c.schedule = ml_collections.ConfigDict()
    c.schedule.steps = config_dict.placeholder(int)  # None: the data set's paper step count
    c.schedule.eval_every = config_dict.placeholder(int)  # None: its paper checkpoint interval

    c.evaluation = ml_collections.ConfigDict()
    # each metric's settings (metrics.columns: FidSettings, ...), by the metric's name
    c.evaluation.metrics = ml_collections.ConfigDict(
        {name: _fields(settings) for name, settings in SETTINGS.items()})
    c.evaluation.fid_feature = "auto"  # config.FID_FEATURES
    c.evaluation.expensive_every_eval = False  # expensive metrics (P/R/F1) at every evaluation
    c.evaluation.grid_size = 64  # samples in each PNG grid
    # G's batch norm when evaluated: its running averages (the paper), zero-debiased averages
    # (benchmark.training.debias), or statistics recomputed from this many batches of 64
    # training-mode passes (benchmark.training.recompute_generator_stats)
    c.evaluation.debias_bn = False
    c.evaluation.recompute_bn = 0

    c.fidelity = ml_collections.ConfigDict()  # docs/fidelity.md
    c.fidelity.fid_reference = "default"  # config.FID_REFERENCES
    c.fidelity.matmul_precision = "float32"  # config.MATMUL_PRECISIONS
    c.fidelity.g_schedule = "v1"  # config.G_SCHEDULES: the runs' default

    c.hparams = ml_collections.ConfigDict()  # in place of the author defaults
    c.hparams.fixed_from = config_dict.placeholder(str)  # a search space's fixed values
    c.hparams.overrides = ()  # then these (name, value) pairs, where a model has them
    c.hparams.model_overrides = ()  # then these, per model: (model, ((name, value), ...))

    c.study = ml_collections.ConfigDict()  # what runs: a named study's defaults
    c.study.name = "default"  # sweeps/configs/studies.py: the named study these values are
    c.study.space = "default"  # search space (sweeps.spaces.SPACES); default: author defaults
    c.study.configs = config_dict.placeholder(int)  # configurations per model (None: 1)
    c.study.seeds = (0, 1, 2)
    c.study.datasets = ("triangles",)
    c.study.models = config_dict.placeholder(tuple)  # None: the paper's eight
    c.study.sampler = "project"  # sweeps.studies.SAMPLERS: v1 (the paper's draws) or project

    c.execution = ml_collections.ConfigDict()  # how, not what: not fingerprinted
    c.execution.max_group = 256  # most runs trained at once in one compiled program
    c.execution.data_dir = config_dict.placeholder(str)  # the original files (else tfds)
    c.execution.keep_checkpoints = False  # keep each task's final orbax checkpoint
    # processes training tasks at once on this machine, each on its share of the CPU cores
    # (benchmark.runner.workers); 0: one per core on the CPU, one on an accelerator
    c.execution.workers = 1
    c.lock()
    return c


def _fields(settings: type) -> dict[str, Any]:
    """A metric's settings dataclass as the config's fields: its defaults, a None default as a
    placeholder of the field's type (``int | None`` -> ``placeholder(int)``), so that the command
    line can set it (``--config evaluation.metrics.precision_recall.precision_samples=500``)."""
    hints = typing.get_type_hints(settings)
    fields = {}
    for name, value in dataclasses.asdict(settings()).items():
        if value is None:
            value = config_dict.placeholder(
                next(t for t in typing.get_args(hints[name]) if t is not type(None)))
        fields[name] = value
    return fields
