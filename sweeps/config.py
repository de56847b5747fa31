"""The one configuration of a study: how its runs train, are evaluated and are executed.

A study is its runs (:class:`sweeps.runs.Study`: models, data sets, seeds, hyperparameters)
and one frozen, nested configuration, an ml_collections ``FrozenConfigDict`` whose sections are
read top to bottom in ``sweeps/configs/default.py``:

- ``schedule``: training steps and the evaluation interval (None: each data set's paper
  values, docs/protocol.md §4.5);
- ``evaluation``: each metric's settings by the metric's name (``metrics.columns.SETTINGS``),
  the FID features, when the expensive metrics run, how G's batch norm is evaluated, the PNGs;
- ``fidelity``: the choices where the paper's text and compare_gan v1 differ
  (docs/fidelity.md): FID's reference split, float32 or TF32, the G-update schedule;
- ``hparams``: values put in place of the models' author defaults (a search space's fixed
  values, then overrides, then per-model overrides: :func:`sweeps.studies.profile_hparams`);
- ``study``: what runs, a named study's defaults (``sweeps/configs/studies.py``: search space,
  configurations, seeds, data sets, models), over which ``sweeps.studies`` builds the runs;
- ``execution``: how it runs, not what it computes (runs per compiled program, the data
  folder, kept checkpoints): outside the fingerprint.

A profile (``paper``, ``preview``, ``cpu``, ``smoke``) is ``sweeps/configs/<name>.py``, a small
change of the default, as in flax's examples. The command line maps flags onto the config
through ml_collections' ``config_flags`` (:func:`override`): ``--config schedule.steps=300``
for any key, and the short flags of :data:`FLAGS` (``--steps 300``) for the common ones.
ml_collections because flax's examples use it for exactly this (``configs/`` plus
``config_flags``); it types each field from its default (an int stays an int; a key that does not
exist is an error, not a new key); and its ``FrozenConfigDict`` is hashable and picklable, so
Ray and SLURM workers get the study's config as it is. tyro would replace the argparse command
line and its one-line errors; fiddle configures call graphs rather than a tree of values.

Importable without JAX.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from typing import Any

import ml_collections
from absl import flags
from ml_collections import config_flags

from metrics.columns import SETTINGS as METRIC_SETTINGS
from sweeps.configs.studies import STUDIES

Config = ml_collections.FrozenConfigDict

PROFILES = ("paper", "preview", "cpu", "smoke")
# FID's reference split: "default" is each data set's (``DatasetSpec.fid_reference_split``:
# the test split, for CelebA the validation partition as in compare_gan v1); "test" and
# "validation" choose that split wherever the data set is scored with FID
# (docs/protocol.md §7.3, §9.6).
FID_REFERENCES = ("default", "test", "validation")
# Matrix products and convolutions in training and evaluation: "float32" (full float32, as the
# paper trained; jax's "highest") or "tf32" (TensorFloat-32 inputs on GPUs that have it; jax's
# "tensorfloat32"). On CPU both compute in float32 (docs/protocol.md §4.8, §9.7).
MATMUL_PRECISIONS = ("float32", "tf32")
# FID's features: inception (docs/protocol.md §7.1), lenet (FID-LeNet), none, or auto =
# inception, else lenet when the Inception weights cannot be obtained.
FID_FEATURES = ("auto", "inception", "lenet", "none")
# The steps with a G update when n_disc > 1 (docs/protocol.md §9.1; the run's g_schedule column):
# "v1" = compare_gan v1's t = 0, 1, 1+n_disc, ...; "modulo" = t = 0, n_disc, 2 n_disc, ...
G_SCHEDULES = ("v1", "modulo")
DEFAULT_G_SCHEDULE = "v1"

# Keys with a fixed set of values, checked in one place (:func:`check`).
CHOICES = {
    "evaluation.fid_feature": FID_FEATURES,
    "fidelity.fid_reference": FID_REFERENCES,
    "fidelity.matmul_precision": MATMUL_PRECISIONS,
    "fidelity.g_schedule": G_SCHEDULES,
}
# Keys that must be >= 1 where set.
POSITIVE = ("schedule.steps", "schedule.eval_every", "evaluation.grid_size",
            "evaluation.metrics.precision_recall.precision_samples", "execution.max_group")
# The command line's short flags: flag destination -> config key (``--steps 300`` is
# ``--config schedule.steps=300``).
FLAGS = {
    "steps": "schedule.steps",
    "eval_every": "schedule.eval_every",
    "fid_feature": "evaluation.fid_feature",
    "fid_reference": "fidelity.fid_reference",
    "precision": "fidelity.matmul_precision",
    "g_schedule": "fidelity.g_schedule",
    "data_dir": "execution.data_dir",
    "keep_checkpoints": "execution.keep_checkpoints",
    "workers": "execution.workers",
}
_SHORT = {key: flag for flag, key in FLAGS.items()}  # config key -> its short flag
# Sections that do not change results: outside the fingerprint and the profile's name.
UNHASHED = ("description", "execution")
# Keys (or sections) that change results but that the rows record in columns of their own, so a
# profile's name does not repeat them: the run's g_schedule, the FID's fid_feature, and the
# study section (the runs' model, data set, seed and config columns).
UNTAGGED = ("fidelity.g_schedule", "evaluation.fid_feature", "study")


def resolve(name: str, backend: str = "cpu") -> Config:
    """The named profile's configuration; ``auto`` is ``paper`` on an accelerator ``backend``
    (JAX's ``jax.default_backend()``), else ``preview``."""
    if name == "auto":
        name = "preview" if backend == "cpu" else "paper"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: auto, {', '.join(PROFILES)}")
    return _load(name)


def _load(module: str) -> Config:
    """``sweeps/configs/<module>.py``'s configuration, frozen and checked."""
    return freeze(importlib.import_module(f"sweeps.configs.{module}").get_config())


def freeze(config: ml_collections.ConfigDict) -> Config:
    """The frozen, checked configuration."""
    check(config)
    return ml_collections.FrozenConfigDict(config)


def check(config) -> None:
    """A one-line ``ValueError`` for a value outside its choices or range, or a metric setting
    the metric does not have."""
    flat = flatten(config)
    for key, choices in CHOICES.items():
        if flat[key] not in choices:
            raise ValueError(f"{_flag_of(key, flat[key])} is not one of: {', '.join(choices)}")
    for key in POSITIVE:
        if flat[key] is not None and flat[key] < 1:
            raise ValueError(f"{_flag_of(key, flat[key])} must be >= 1")
    if flat["execution.workers"] < 0:
        raise ValueError(f"{_flag_of('execution.workers', flat['execution.workers'])} must be "
                         ">= 0 (0: one per CPU core)")
    for metric, values in config.evaluation.metrics.items():
        known = METRIC_SETTINGS.get(metric)
        if known is None:
            raise ValueError(f"evaluation.metrics has no metric {metric!r}; choose among: "
                             f"{', '.join(METRIC_SETTINGS)}")
        unknown = sorted(set(values) - set(known.__dataclass_fields__))
        if unknown:
            raise ValueError(f"metric {metric!r} has no setting {unknown[0]!r}; choose one of: "
                             f"{', '.join(known.__dataclass_fields__)}")


def _flag_of(key: str, value: Any) -> str:
    """How the command line sets ``key`` to ``value``: ``--steps 0``, else ``--config K=V``."""
    short = _SHORT.get(key)
    return f"--{short.replace('_', '-')} {value}" if short else f"--config {key}={value}"


def flatten(config, prefix: str = "") -> dict[str, Any]:
    """``{"schedule.steps": 400, ...}``: every leaf by its dotted key, of a configuration or
    of its plain nested dicts (a manifest's ``config``)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, (Mapping, ml_collections.ConfigDict,
                              ml_collections.FrozenConfigDict)):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def command_line(name: str) -> str:
    """The options that give a configuration of this name: ``preview[steps=300]`` ->
    ``--profile preview --steps 300`` (``--config KEY=VALUE`` where no short flag exists)."""
    base = name.partition("[")[0]
    default = flatten(resolve(base)) if base in PROFILES else {}
    options = [f"--profile {base}"]
    for tag, value in _tags(name).items():
        options.append(_flag_of(next((k for k in default if k.partition(".")[2] == tag), tag),
                                value))
    return " ".join(options)


def override(config: Config, changes: Mapping[str, Any], *, parse: bool = False,
             name: str | None = None) -> Config:
    """``config`` with ``changes`` (dotted key -> value) applied, frozen and checked, and its
    name tagged with those that change results (``preview[steps=300]``), as the rows' ``profile``
    column shows it. With ``parse``, the values are command-line strings that ml_collections'
    ``config_flags`` parses into each field's type (``"300"`` -> 300, ``"no"`` -> False);
    otherwise they are Python values, type-checked by ``ConfigDict``. A key that does not exist or
    a value of the wrong type is a one-line ``ValueError``. ``name`` names the result in place
    of the tagged name (a configuration of its own, e.g. in tests)."""
    if not changes and name is None:
        return config
    mutable = copy.deepcopy(config.as_configdict())  # (the frozen dict's own, not a copy)
    mutable.lock()
    before = flatten(config)
    for key in changes:
        _known(before, key)
    if parse:
        mutable = _parsed(mutable, changes, before)
    else:
        for key, value in changes.items():
            try:
                mutable.update_from_flattened_dict({key: value})
            except TypeError as err:
                raise ValueError(f"{key}={value!r}: {_first_line(err)}") from None
    tags, after = _tags(config.name), flatten(mutable)
    for key in changes:
        named = not any(key == p or key.startswith(f"{p}.") for p in UNHASHED + UNTAGGED)
        if named and after[key] != before[key]:
            tags[key.partition(".")[2]] = after[key]
    base = config.name.partition("[")[0]
    mutable.name = name if name is not None else base + (
        "[" + ",".join(f"{k}={v}" for k, v in tags.items()) + "]" if tags else "")
    return freeze(mutable)


def for_study(config: Config, name: str) -> Config:
    """``config`` with the study section of the named study (``sweeps/configs/studies.py``):
    the profile's own study section, then the study's changes. A config already made for
    ``name`` is returned as it is (so its command-line changes stay)."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose one of: {', '.join(STUDIES)}")
    if config.study.name == name:
        return config
    base = config.name.partition("[")[0]
    own = _load(base if base in PROFILES else "default").study
    changes = {f"study.{k}": v for k, v in {**own, **STUDIES[name][1], "name": name}.items()}
    return override(config, changes, name=config.name)


def derive(changes: Mapping[str, Any], *, name: str, base: str | Config = "default") -> Config:
    """A configuration of its own: ``base`` (a profile's name or a configuration) with
    ``changes`` (dotted keys, Python values), named ``name``."""
    if isinstance(base, str):
        base = _load("default") if base == "default" else resolve(base)
    return override(base, changes, name=name)


def _tags(name: str) -> dict[str, str]:
    """``preview[steps=300,seeds=(0, 1)]`` -> {"steps": "300", "seeds": "(0, 1)"}: the commas
    between tags, not those inside a value's brackets."""
    inner, parts, depth, part = name.partition("[")[2][:-1], [], 0, ""
    for char in inner:
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += char
    parts.append(part)
    return dict(p.split("=", 1) for p in parts if "=" in p)


def _known(flat: Mapping[str, Any], key: str) -> None:
    """A one-line ``ValueError`` unless ``key`` is one of the flattened configuration's."""
    if key not in flat:
        sections = sorted({k.split(".")[0] for k in flat if "." in k})
        near = sorted(k for k in flat if k.split(".")[-1] == key.split(".")[-1])
        raise ValueError(f"the configuration has no key {key!r}"
                         + (f" (did you mean {near[0]}?)" if near else "")
                         + f"; its sections: {', '.join(sections)} (python -m benchmark "
                         "train --help lists the keys)")


def _parsed(config: ml_collections.ConfigDict, changes: Mapping[str, str],
            flat: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """``config`` with the command line's ``changes`` parsed by ml_collections' config_flags
    (``flat``: the config flattened, for each key's type)."""
    argv = ["config", *(f"--config.{k}={_bool_word(v) if isinstance(flat[k], bool) else v}"
                        for k, v in changes.items())]
    values = flags.FlagValues()
    holder = config_flags.DEFINE_config_dict("config", config, flag_values=values,
                                             sys_argv=argv, lock_config=True)
    try:
        values(argv)
    except (flags.Error, TypeError, ValueError) as err:
        raise ValueError(_first_line(err).removeprefix("flag --config.")) from None
    return holder.value


def _bool_word(text: str) -> str:
    """yes/no and on/off, as the command line's other flags take them, for absl's true/false."""
    return {"yes": "true", "on": "true", "no": "false", "off": "false"}.get(text.lower(), text)


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def keys(config: Config) -> list[str]:
    """``key=value`` of every settable key (not the name and description), for ``--help``."""
    return [f"{k}={v!r}" for k, v in flatten(config).items() if "." in k]


def schedule(config: Config, paper_steps: int, paper_eval_every: int) -> tuple[int, list[int]]:
    """(total steps, evaluation steps): every ``eval_every`` steps and at the end (None: the
    data set's paper values)."""
    total = config.schedule.steps or paper_steps
    every = min(config.schedule.eval_every or paper_eval_every, total)
    return total, sorted({*range(every, total + 1, every), total})


def metric_settings(config: Config, metric: str) -> dict[str, Any]:
    """The settings ``config`` gives ``metric`` (by name): its defaults with the profile's
    changes (``metrics.base.Metric.configure`` takes them)."""
    metrics = config.evaluation.metrics
    return dict(metrics[metric]) if metric in metrics else {}


def fingerprinted(config: Config) -> dict[str, Any]:
    """The configuration as a study's fingerprint hashes it: everything that changes results
    (not the description, not the execution section). A metric setting at None (the same as
    another of its settings: P/R/F1's ``precision_samples``) is left out, so the studies of
    before the setting keep their fingerprints."""
    out = {k: v for k, v in _plain(config.to_dict()).items() if k not in UNHASHED}
    for settings in out["evaluation"]["metrics"].values():
        for key in [k for k, v in settings.items() if v is None]:
            del settings[key]
    return out


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def as_dict(config: Config) -> dict[str, Any]:
    """The configuration as JSON-ready nested dicts (the manifest's ``config``)."""
    return _plain(config.to_dict())
