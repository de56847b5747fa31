"""The named studies of the benchmark (docs/protocol.md §6.5 to §6.7) as lists of runs.

- ``default``: every model at its author defaults, seeds 0, 1, 2, on the triangles (a
  profile may replace both: the ``preview`` profile trains seed 0 at a point of the narrow
  space, lr 1e-3).
- ``phase1``: wide space, 100 configurations (1 default + 99 sampled) x 8 models x seed 0 on
  mnist, fashion_mnist, cifar10, celeba and triangles.
- ``phase2``: narrow space, 50 configurations x 8 models x seed 0 on the same data sets
  (compare_gan v1 ran phase 2 on the four real data sets only: pass ``datasets`` for that).
- ``phase3``: for each model and data set, the phase-1 configuration with the best score over
  all its checkpoints (lowest FID; on the triangles highest F1; on the oracle lowest
  NLL-oracle), retrained with seeds 0..49; from a phase-1 directory of the sequence models,
  its models and data set default to the ``seqgan`` study's (mle, seqgan on the oracle).
- ``seqgan``: SeqGAN and its MLE baseline on SeqGAN's oracle, seeds 0, 1, 2 (docs/protocol.md
  §11): a profile stands for the SeqGAN schedule of its name (``smoke``, ``preview``, ``paper``:
  ``benchmark.training.seqgan.SCHEDULES``), trained by the runner's sequence path
  (``benchmark.runner.sequences``).
- ``custom``: whatever the arguments say (by default the ``default`` study's values).

Each named study is a change of the configuration's ``study`` section
(``sweeps/configs/studies.py``, applied by :func:`sweeps.config.for_study`); :func:`build_study`
builds the runs from that section, and the arguments it is given override it and are recorded
in it (the study's config says what it trains).

Phases 1 and 2 train by default the configurations the paper trained (``sampler="v1"``,
:mod:`sweeps.v1_sampler`; a model v1 did not have is drawn as below); the other studies draw
from :func:`sweeps.spaces.sample_configs` (``sampler="project"``). Every argument that is
given overrides the named study's default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

import models as model_registry
from metrics import scores as run_score
from metrics.columns import selection_columns
from models.hparams import Fixed
from sweeps.config import Config, for_study, override, resolve
from sweeps.configs.studies import DATASETS
from sweeps.configs.studies import STUDIES as NAMED
from sweeps.runs import (
    DEFAULT_G_SCHEDULE,
    RunSpec,
    Study,
    has_generator_steps,
    make_run,
    spectral_norm_arch,
)
from sweeps.spaces import SPACES, sample_configs, search_space
from sweeps.v1_sampler import V1_MODELS, v1_configs

__all__ = ["DATASETS", "STUDIES", "build_study", "profile_hparams"]
SAMPLERS = ("v1", "project")
STUDIES = {name: description for name, (description, _) in NAMED.items()}


def selection_score(rows: pd.DataFrame) -> tuple[str, bool] | None:
    """(column, lower_is_better) that phase 3 selects on for one data set's rows: the first
    registered column marked ``selects`` (metrics.registry) that the rows measure, so FID on
    real data and F1 on the triangles; None when the rows measure none."""
    for column in selection_columns():
        if column.name in rows:
            if pd.to_numeric(rows[column.name], errors="coerce").notna().any():
                return column.name, not column.higher_is_better
    return None


def profile_hparams(profile: Config, model: str) -> dict[str, Any]:
    """The hyperparameters a configuration puts in place of ``model``'s author defaults
    (its ``hparams`` section): the fixed values of its ``fixed_from`` search space, then its
    ``overrides`` and the model's own ``model_overrides`` that the model has (``sweeps.configs``;
    {} for the paper profile).
    A model of the sequence family takes none: its profile is a SeqGAN schedule (the
    ``seqgan`` study), and the image profiles' values (the preview's lr 1e-3) are not its."""
    values: dict[str, Any] = {}
    if model_registry.get(model).family == "sequence":
        return values
    hp = profile.hparams
    if hp.fixed_from is not None:
        values.update({name: dist.value
                       for name, dist in search_space(model, hp.fixed_from).items()
                       if isinstance(dist, Fixed)})
    own = model_registry.get(model).defaults
    values.update({k: v for k, v in hp.overrides if k in own})
    values.update({k: v for m, pairs in hp.model_overrides if m == model
                   for k, v in pairs if k in own})
    return values


def _unique(values, what: str) -> tuple:
    values = tuple(dict.fromkeys(values))
    if not values:
        raise ValueError(f"no {what} given; pass at least one")
    return values


def _check_models(models: tuple[str, ...]) -> None:
    for model in models:
        model_registry.get(model)


def build_study(
    name: str,
    *,
    profile: Config | str,
    datasets: list[str] | tuple[str, ...] | None = None,
    models: list[str] | tuple[str, ...] | None = None,
    seeds: list[int] | tuple[int, ...] | None = None,
    num_configs: int | None = None,
    phase1_rows: pd.DataFrame | None = None,
    phase1_source: str = "the phase-1 results",
    space: str | None = None,
    config_seed: int = 0,
    sampler: str | None = None,
    g_schedule: str | None = None,
    arch: str | Sequence[str] | None = None,
    spectral_norm: bool = False,
) -> Study:
    """The study ``name`` with any given argument overriding its defaults (see module doc).

    In the default space every run gets the profile's hyperparameters in place of the author
    defaults (:func:`profile_hparams`; the rows' ``lr``/``beta1``/... columns show them), and the
    ``default`` study takes the config's ``study.seeds`` when ``seeds`` is not given.
    ``config_seed`` seeds the configuration sampler (:func:`sweeps.spaces.sample_configs`);
    ``space`` overrides the study's search space; ``sampler`` ("v1" or "project") overrides
    the study's sampler (config_seed applies to "project" only); ``phase1_rows`` are the
    result rows phase 3 selects from (``phase1_source`` names them in messages);
    ``g_schedule`` is every GAN's G schedule (``sweeps.runs.G_SCHEDULES``; None: the config's
    ``fidelity.g_schedule``; the VAE has none; phase 3 keeps each selected row's); ``arch``
    is every model's architecture, or a list of them, each run with every one (an axis of the
    study; None: each model's own; phase 3 keeps each selected row's); ``spectral_norm``
    normalises every run's D spectrally.
    Data-set names are checked by the caller, which knows the data sets. Raises a one-line
    ``ValueError`` on bad input.
    """
    profile = for_study(resolve(profile) if isinstance(profile, str) else profile, name)
    spec = profile.study  # the named study's values, with any changes of the command line
    sampler = sampler if sampler is not None else spec.sampler
    if sampler not in SAMPLERS or (sampler == "v1" and config_seed != 0):
        raise ValueError(f"sampler {sampler!r} with config_seed {config_seed}: choose sampler "
                        "project (any config_seed) or v1 (config_seed 0)")
    g_schedule = profile.fidelity.g_schedule if g_schedule is None else g_schedule
    explicit_models, explicit_datasets = models is not None, datasets is not None
    default_models, default_datasets = spec.models or model_registry.PAPER_MODELS, spec.datasets
    if name == "phase3" and _sequence_rows(phase1_rows):  # phase 1 on the oracle: phase 3 too
        seqgan = NAMED["seqgan"][1]
        default_models, default_datasets = seqgan["models"], seqgan["datasets"]
    models = _unique(models if models is not None else default_models, "models")
    datasets = _unique(datasets if datasets is not None else default_datasets, "data sets")
    seeds = _unique(seeds if seeds is not None else spec.seeds, "seeds")
    if any(int(s) != s or s < 0 for s in seeds):
        raise ValueError(f"seeds must be whole numbers >= 0, got {list(seeds)}")
    _check_models(models)

    if name != "phase3" and phase1_rows is not None:
        raise ValueError(f"--phase1-dir is only for --study phase3, not {name!r}; drop it")
    if name == "phase3":
        if num_configs is not None or space is not None:
            raise ValueError("phase3 retrains the best phase-1 configuration; drop --configs "
                            "and --space")
        if g_schedule != DEFAULT_G_SCHEDULE or arch is not None or spectral_norm:
            raise ValueError("phase3 retrains each selected run with its own G schedule and "
                            "architecture; drop --g-schedule, --arch(s) and --spectral-norm")
        runs = phase3_runs(phase1_rows, phase1_source, models=models, datasets=datasets,
                           seeds=seeds,
                           explicit_models=explicit_models,
                           explicit_datasets=explicit_datasets)
        return Study(name, tuple(runs), _chosen(profile, models, datasets, seeds, None, None,
                                                sampler))

    space = space if space is not None else spec.space
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; choose one of: {', '.join(SPACES)}")
    if num_configs is None:
        if space == "default":
            num_configs = 1
        elif spec.configs is not None and spec.space == space:
            num_configs = spec.configs
        else:
            raise ValueError(f"study {name!r} in the {space} space needs num_configs "
                            "(e.g. --configs 10)")
    if space == "default" and num_configs != 1:
        raise ValueError(f"study {name!r} trains only the author defaults; for more "
                        "configurations use --study custom --space wide (or narrow)")
    schedules = {m: g_schedule if has_generator_steps(m) else DEFAULT_G_SCHEDULE
                 for m in models}
    archs = [arch] if arch is None or isinstance(arch, str) else _unique(arch, "architectures")
    runs: list[RunSpec] = []
    for dataset in datasets:
        for model in models:
            if sampler == "v1" and space != "default" and model in V1_MODELS:
                configs = v1_configs(model, space, num_configs, dataset)
            else:
                configs = sample_configs(model, space, num_configs, seed=config_seed)
            for index, overrides in enumerate(configs):
                if space == "default":  # the profile's values replace the author defaults
                    overrides = {**profile_hparams(profile, model), **overrides}
                for a in archs:
                    a = spectral_norm_arch(model, a) if spectral_norm else a
                    for seed in seeds:
                        runs.append(make_run(model, dataset, int(seed), overrides,
                                             config=index, g_schedule=schedules[model],
                                             arch=a))
    return Study(name, tuple(runs), _chosen(profile, models, datasets, seeds, space,
                                            num_configs, sampler))


def _chosen(config: Config, models, datasets, seeds, space, num_configs, sampler) -> Config:
    """``config`` whose study section holds what the study trains (its arguments given)."""
    values = {"models": tuple(models), "datasets": tuple(datasets),
              "seeds": tuple(int(s) for s in seeds), "space": space, "configs": num_configs,
              "sampler": sampler}
    return override(config, {f"study.{k}": v for k, v in values.items() if v is not None},
                    name=config.name)


# --- phase 3 ---------------------------------------------------------------------------------


def _sequence_rows(rows: pd.DataFrame | None) -> bool:
    """Whether result rows are of the sequence family's models (a phase-1 directory holds one
    family: no data set offers both images and sequences)."""
    if rows is None or rows.empty or "model" not in rows:
        return False
    known = set(model_registry.names())
    return any(model_registry.get(m).family == "sequence"
               for m in rows["model"].dropna().unique() if m in known)


def best_configs(df: pd.DataFrame) -> pd.DataFrame:
    """The best row of each (data set, model) over all runs and checkpoints of ``df``.

    Best is the lowest FID, on the triangles the highest F1 (docs/protocol.md §6.6): each run's
    score under the ``select`` policy (:func:`metrics.scores.run_scores`: rows marked failed
    and rows without the score ignored, a run's finite checkpoints before it failed still
    counting as in compare_gan v1's ``BestFIDPerModel``; the column's preferred features,
    Inception FID, where they exist), then the best run. Ties go to the lowest config index,
    then the earliest step. On the oracle (NLL-oracle, lower is better) a run's step-0 point,
    ``phase`` random, is no candidate: it is the untrained generator, the same for every config.
    """
    if "phase" in df:
        df = df[df["phase"].ne("random")]
    picked = []
    key = run_score.run_key(df)
    for (_dataset, _model), group in df.groupby(["dataset", "model"], sort=False):
        score = selection_score(df[df["dataset"] == _dataset])
        if score is None:
            continue
        metric, lower = score
        per_run = run_score.run_scores(group, metric, "select").dropna(subset=["value"])
        if per_run.empty:
            continue
        per_run = per_run.assign(_score=per_run["value"].astype(float) * (1.0 if lower
                                                                           else -1.0))
        sort_by = ["_score"] + [c for c in ("config", "step") if c in group]
        best = per_run.sort_values(sort_by, kind="stable").iloc[0]
        match = group["step"].eq(best["step"])
        for column in key:
            match &= group[column].eq(best[column])
        picked.append(group[match].iloc[0])
    return pd.DataFrame(picked).reset_index(drop=True)


def overrides_from_row(row: pd.Series, model: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(hyperparameter overrides, loss options) of a result row, typed for ``make_run``."""
    loss = model_registry.get(model)
    overrides: dict[str, Any] = {}
    for key, default in loss.defaults.items():
        value = row.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(default, bool):
            overrides[key] = bool(value)
        elif key == "n_disc":
            overrides[key] = int(value)
        else:
            overrides[key] = float(value)
    options = {}
    for key in loss.options:
        value = row.get(key)
        if isinstance(value, str):
            options[key] = value
    return overrides, options


def phase3_runs(
    df: pd.DataFrame | None,
    source: str = "the phase-1 results",
    *,
    models: tuple[str, ...],
    datasets: tuple[str, ...],
    seeds: tuple[int, ...],
    explicit_models: bool = False,
    explicit_datasets: bool = False,
) -> list[RunSpec]:
    """Phase 3's runs: each (data set, model)'s best phase-1 configuration, every seed.

    Pairs absent from the phase-1 results are skipped unless that model or data set was asked
    for explicitly, which raises a ``ValueError``. ``df``: the phase-1 result rows.
    """
    if df is None:
        raise ValueError("phase3 needs the phase-1 results; pass --phase1-dir DIR "
                         "(the --results-dir of a finished phase1 sweep)")
    root = source
    df = df[df["dataset"].isin(datasets) & df["model"].isin(models)]
    best = best_configs(df)
    found = set(zip(best.get("dataset", []), best.get("model", []), strict=True))
    if explicit_datasets:
        for dataset in datasets:
            if not any(d == dataset for d, _ in found):
                raise ValueError(f"{root} has no scored phase-1 run on {dataset!r}; run phase1 "
                                "on it first or drop it from --datasets")
    if explicit_models:
        for model in models:
            if not any(m == model for _, m in found):
                raise ValueError(f"{root} has no scored phase-1 run of {model!r}; run phase1 "
                                "for it first or drop it from --models")
    if not found:
        scores = [c.title for c in selection_columns()]
        raise ValueError(f"{root} has no phase-1 run with a finite "
                         f"{', '.join(scores[:-1])} or {scores[-1]}; finish phase1 first")
    runs = []
    for dataset in datasets:
        for model in models:
            rows = best[(best["dataset"] == dataset) & (best["model"] == model)]
            if rows.empty:
                continue
            row = rows.iloc[0]
            overrides, options = overrides_from_row(row, model)
            config = int(row["config"]) if "config" in row and pd.notna(row["config"]) else 0
            g_schedule = row.get("g_schedule")
            g_schedule = g_schedule if isinstance(g_schedule, str) else DEFAULT_G_SCHEDULE
            arch = row.get("arch")
            arch = arch if isinstance(arch, str) else None
            for seed in seeds:
                runs.append(make_run(model, dataset, int(seed), overrides, config=config,
                                     options=options or None, g_schedule=g_schedule,
                                     arch=arch))
    return runs
