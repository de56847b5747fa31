"""Runs and studies: what to train, as plain data.

A :class:`RunSpec` is one run: model, data set, seed and every hyperparameter. Runs that share
a :attr:`RunSpec.structure_key` (model, n_disc, D batch norm, static options, G schedule,
architecture) on one data set are trained together in one compiled program
(``benchmark.runner.tasks``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

import models
from sweeps import config as configs
from sweeps.config import DEFAULT_G_SCHEDULE, G_SCHEDULES, Config

# Which steps update G when n_disc > 1 (docs/protocol.md §4.2, §9.3): sweeps.config.G_SCHEDULES
__all__ = ["DEFAULT_G_SCHEDULE", "G_SCHEDULES", "RunSpec", "Study", "make_run"]


def options_tag(options: tuple[tuple[str, str], ...],
                g_schedule: str = DEFAULT_G_SCHEDULE, arch: str | None = None) -> str:
    """Static options in names: ``_perturbation-gaussian``; a G schedule other than the
    default adds ``_gsched-modulo``; an architecture other than the model's ``_arch-NAME``."""
    tag = "".join(f"_{k}-{v}" for k, v in options)
    tag = tag if g_schedule == DEFAULT_G_SCHEDULE else f"{tag}_gsched-{g_schedule}"
    return tag if arch is None else f"{tag}_arch-{arch}"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the study: a function of its seed and hyperparameters."""

    model: str
    dataset: str
    seed: int
    hparams: tuple[tuple[str, float], ...]  # lr, beta1 and the loss's own continuous ones
    n_disc: int = 1
    disc_bn: bool = True
    config: int = 0  # index of the sampled configuration; 0 is the author default
    options: tuple[tuple[str, str], ...] = ()
    g_schedule: str = DEFAULT_G_SCHEDULE  # G_SCHEDULES; the VAE (no G steps) keeps the default
    arch: str | None = None  # registered_architectures(); None: the model's own

    @property
    def run_id(self) -> str:
        tag = options_tag(self.options, self.g_schedule, self.arch)
        return f"{self.model}{tag}_{self.dataset}_c{self.config:03d}_s{self.seed}"

    @property
    def hp(self) -> dict[str, float]:
        return dict(self.hparams)

    @property
    def structure_key(self) -> tuple[str, int, bool, tuple[tuple[str, str], ...], str,
                                     str | None]:
        """What changes the compiled program besides the data set's shape."""
        return self.model, self.n_disc, self.disc_bn, self.options, self.g_schedule, self.arch

    @property
    def architecture(self) -> str:
        """The run's architecture's name (the model's default where ``arch`` is None)."""
        return self.arch or models.get(self.model).arch

    def columns(self) -> dict[str, Any]:
        """Every hyperparameter as a result column, every static option of the loss included
        (at its default where the run does not set it)."""
        defaults = {k: v[0] for k, v in models.get(self.model).options.items()}
        return {"run_id": self.run_id, "model": self.model, "arch": self.architecture,
                "dataset": self.dataset,
                "seed": self.seed, "config": self.config, "n_disc": self.n_disc,
                "disc_bn": self.disc_bn, "g_schedule": self.g_schedule,
                **defaults, **dict(self.options), **self.hp}


def make_run(
    model: str,
    dataset: str,
    seed: int,
    overrides: dict[str, Any] | None = None,
    *,
    config: int = 0,
    options: dict[str, str] | None = None,
    g_schedule: str = DEFAULT_G_SCHEDULE,
    arch: str | None = None,
) -> RunSpec:
    """A run at the author defaults of ``model`` (docs/protocol.md §2.8), with ``overrides``
    applied. A model without n_disc (the VAE) trains with one update per step (n_disc 1)
    and has no G schedule (only the default is accepted). ``g_schedule`` is one of
    ``G_SCHEDULES``. ``arch`` picks an architecture other than the model's (a registered
    name; its default is dropped, as default options are).

    ``options`` at their default value (the first of the loss's choices) are dropped, so a
    run is named and grouped the same whether its defaults are spelled out or not.

    Raises a one-line ``ValueError`` for unknown names and out-of-range values.
    """
    loss = models.get(model, options)
    options = {k: v for k, v in (options or {}).items()
               if v != loss.options[k][0]}
    if arch is not None:  # a model's own architecture suits its family (tests/models)
        chosen = models.architecture(arch)  # a one-line error for an unknown name
        if chosen.spectral_norm and loss.family == "vae":
            raise ValueError(f"the {loss.title} has no discriminator to normalise spectrally "
                             f"(its encoder sits where D sits); drop --spectral-norm")
        if chosen.family is not None and chosen.family != loss.family:
            raise ValueError(f"architecture {arch!r} is trained only by the {chosen.family} "
                             f"family; choose another --arch for {model!r}")
        if loss.family == "multiscale" and chosen.family != "multiscale":
            raise ValueError(f"model {model!r} trains a pyramid of GANs; its architecture is "
                             f"{loss.arch!r}: drop --arch {arch}")
        arch = None if arch == loss.arch else arch
    values = dict(loss.defaults)
    for key, value in (overrides or {}).items():
        if key not in values:
            if key == "n_disc":  # the VAE: one update of every variable per step
                raise ValueError(f"the {loss.title} has no n_disc (every step updates all its "
                                 f"variables); drop it. Its hyperparameters: "
                                 f"{', '.join(values)}")
            raise ValueError(f"model {model!r} has no hyperparameter {key!r}; it has: "
                            f"{', '.join(values)}")
        values[key] = value
    lr, beta1 = float(values["lr"]), float(values["beta1"])
    n_disc, disc_bn = values.get("n_disc", 1), values["disc_bn"]
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr={lr} is not a positive number; pass e.g. --lr 1e-4")
    if not 0.0 <= beta1 <= 1.0:
        raise ValueError(f"beta1={beta1} is outside [0, 1]; pass e.g. --beta1 0.5")
    if int(n_disc) != n_disc or int(n_disc) < 1:
        raise ValueError(f"n_disc={n_disc} must be a whole number >= 1 (the study uses 1 or 5)")
    if not isinstance(disc_bn, bool):
        raise ValueError(f"disc_bn={disc_bn!r} must be yes or no")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed={seed} must be a whole number in [0, 2**32) (a PRNG key's seed)")
    if g_schedule not in G_SCHEDULES:
        raise ValueError(f"unknown G schedule {g_schedule!r}; choose one of: "
                        f"{', '.join(G_SCHEDULES)}")
    if g_schedule != DEFAULT_G_SCHEDULE and not has_generator_steps(model):
        raise ValueError(f"the {loss.title} has no separate G steps; drop g_schedule")
    continuous = {"lr": lr, "beta1": beta1}
    for h in loss.hparams:
        v = float(values[h.name])
        if not (h.low <= v <= h.high) or not math.isfinite(v):
            raise ValueError(f"{h.name}={v} is outside [{h.low}, {h.high}] ({h.help})")
        continuous[h.name] = v
    return RunSpec(
        model=model, dataset=dataset, seed=int(seed), hparams=tuple(sorted(continuous.items())),
        n_disc=int(n_disc), disc_bn=disc_bn, config=config,
        options=tuple(sorted((options or {}).items())), g_schedule=g_schedule, arch=arch,
    )


def spectral_norm_arch(model: str, arch: str | None) -> str:
    """``--spectral-norm``: the run's architecture (``arch``, else the model's) with its D
    spectrally normalised (``NAME+sn``, docs/protocol.md §13.2)."""
    base = arch or models.get(model).arch
    return base if base.endswith(models.registry.SPECTRAL_NORM_SUFFIX) else f"{base}+sn"


def has_generator_steps(model: str) -> bool:
    """Whether ``model`` alternates D and G updates (has n_disc and a G schedule)."""
    return models.get(model).has_generator_steps


@dataclasses.dataclass(frozen=True)
class Study:
    """A named list of runs trained under one configuration (``sweeps.config``: a profile and
    its overrides); its fingerprint guards its directory."""

    name: str
    runs: tuple[RunSpec, ...]
    config: Config

    def __post_init__(self):
        ids = [r.run_id for r in self.runs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"study {self.name!r} lists the same run twice; drop duplicates")

    def fingerprint(self) -> str:
        payload = json.dumps(
            {"runs": [_fingerprinted(r) for r in self.runs],
             "config": configs.fingerprinted(self.config)},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _fingerprinted(run: RunSpec) -> dict[str, Any]:
    """A run's fields as the fingerprint hashes them: ``arch`` only where it is not the
    model's default, so the studies of before the field keep their fingerprints."""
    fields = dataclasses.asdict(run)
    if fields["arch"] is None:
        del fields["arch"]
    return fields
