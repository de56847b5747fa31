"""Command-line flags for hyperparameters, derived from the loss registry.

Every continuous hyperparameter a registered loss declares (``models.hparams.HParam``) becomes a
flag ``--<name>`` (underscores as dashes: ``lambda_k`` is ``--lambda-k``) whose help names its
meaning, valid range, default and the models that have it; ``--hp NAME=VALUE`` (repeatable)
sets any hyperparameter of the model by name, including a loss's own one whose flag would
clash with another option. A new loss's hyperparameters are therefore settable from the
command line without editing it. The common ones (lr, beta1, n_disc, disc_bn) keep their own
typed flags in ``benchmark.cli.main``.

Values are checked against ``HParam.low`` / ``HParam.high`` here, so the error names the
valid range and the model's hyperparameters on one line.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import models as model_registry
from benchmark.errors import UserError
from models.hparams import HParam

COMMON = ("lr", "beta1", "n_disc", "disc_bn")  # typed flags of their own in benchmark.cli.main
DEST = "hparam_"  # argparse destination prefix of the derived flags


def registered() -> dict[str, list[tuple[str, HParam]]]:
    """Each loss-specific hyperparameter name -> [(model, HParam)], in registry order."""
    out: dict[str, list[tuple[str, HParam]]] = {}
    for model in model_registry.names():
        loss = model_registry.get(model)
        for h in loss.hparams:
            out.setdefault(h.name, []).append((model, h))
    return out


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def valid_range(h: HParam) -> str:
    high = "inf)" if math.isinf(h.high) else f"{h.high:g}]"
    return f"[{h.low:g}, {high}"


def _help(entries: list[tuple[str, HParam]]) -> str:
    """``gradient-penalty weight lambda (wgan_gp, dragan: in [0, inf), default 10)``."""
    by_text: dict[tuple, list[str]] = {}
    for model, h in entries:
        by_text.setdefault((h.help, valid_range(h), h.default), []).append(model)
    parts = [f"{text or 'no description'} ({', '.join(models)}: in {rng}, default {default:g})"
             for (text, rng, default), models in by_text.items()]
    return "; ".join(parts).replace("%", "%%")


def add_flags(group: argparse._ArgumentGroup) -> None:
    """Add ``--<name>`` for every registered loss hyperparameter and ``--hp NAME=VALUE``.

    A derived flag that would clash with an option already on the parser is left out (its
    hyperparameter stays settable with ``--hp``)."""
    for name, entries in registered().items():
        try:
            group.add_argument(flag(name), dest=DEST + name, metavar=name.upper(), default=None,
                               help=_help(entries))
        except argparse.ArgumentError:
            continue
    group.add_argument(
        "--hp", dest="hp", metavar="NAME=VALUE", action="append", default=[],
        help="set any hyperparameter of the model by name (repeatable), e.g. --hp gamma=0.5; "
        "a loss's own hyperparameters are listed as flags above, with their models")


def _given(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    """(how it was given, name, raw value) for every hyperparameter on the command line."""
    given = []
    for name in COMMON:
        value = getattr(args, name, None)
        if value is not None:
            given.append((flag(name), name, value))
    for key, value in vars(args).items():
        if key.startswith(DEST) and value is not None:
            name = key[len(DEST):]
            given.append((flag(name), name, value))
    for text in getattr(args, "hp", None) or []:
        name, sep, value = text.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UserError(f"--hp {text!r}: expected NAME=VALUE, e.g. --hp gamma=0.5")
        given.append((f"--hp {name}", name, value.strip()))
    seen: dict[str, str] = {}
    for how, name, _ in given:
        if name in seen:
            raise UserError(f"{name} is given twice ({seen[name]} and {how}); give it once")
        seen[name] = how
    return given


def _convert(how: str, name: str, value: Any, default: Any, continuous: bool) -> Any:
    if not isinstance(value, str):
        return value  # typed by argparse (the common flags)
    try:
        if continuous:
            return float(value)
        if isinstance(default, bool):
            if value.lower() in ("yes", "true", "1", "on"):
                return True
            if value.lower() in ("no", "false", "0", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(value)
        return float(value)
    except ValueError:
        example = "yes" if isinstance(default, bool) else default
        raise UserError(f"{how} {value!r} is not a valid {name}; pass e.g. "
                        f"{how}{'=' if how.startswith('--hp') else ' '}{example}") from None


def describe(model: str) -> str:
    """``lr, beta1, n_disc, disc_bn, lambda in [0, inf)``: a model's hyperparameters."""
    loss = model_registry.get(model)
    ranges = {h.name: valid_range(h) for h in loss.hparams}
    return ", ".join(f"{k} in {ranges[k]}" if k in ranges else k for k in loss.defaults)


def overrides(args: argparse.Namespace, models: list[str]) -> dict[str, dict[str, Any]]:
    """Per model, the hyperparameters given on the command line that it has, typed and
    range-checked. A value given for none of ``models`` is an error naming their
    hyperparameters; one outside a model's ``HParam`` range names the valid range."""
    known = {m: model_registry.get(m) for m in models}
    out: dict[str, dict[str, Any]] = {m: {} for m in models}
    for how, name, raw in _given(args):
        owners = [m for m, loss in known.items() if name in loss.defaults]
        if not owners:
            names = sorted(set().union(*(loss.defaults for loss in known.values())))
            raise UserError(f"{how} applies to none of {', '.join(models)}; their "
                            f"hyperparameters: {', '.join(names)}")
        for model in owners:
            loss = known[model]
            value = _convert(how, name, raw, loss.defaults[name],
                             continuous=any(h.name == name for h in loss.hparams))
            for h in loss.hparams:
                if h.name == name and not (math.isfinite(value) and h.low <= value <= h.high):
                    raise UserError(
                        f"{name}={value} is outside its valid range {valid_range(h)} for "
                        f"{model} ({h.help}); {model}'s hyperparameters: {describe(model)}")
            out[model][name] = value
    return out
