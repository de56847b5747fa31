"""Profiles: how long runs train and how finely they are evaluated.

``paper`` is the schedule of docs/protocol.md §4.5 (each data set's step count and checkpoint
interval, FID on 10,000 samples). ``preview`` is what the default ``make sweep`` uses on a
machine without an accelerator: a study that shows learning within a quarter of an hour on 2 CPU
cores (docs/usage.md, "The preview profile"): the study's eight models at full width, but one
seed, a few hundred steps, and a point of the narrow (phase 2) search space in place of the author
defaults: its fixed values (beta1 0.5, n_disc 1, no D batch norm for WGAN-GP and DRAGAN, BEGAN's
lambda_k 1e-3) and the top of its learning-rate range, 1e-3 (the other author defaults are
inside its ranges), because at the author learning rates (5e-5 .. 2e-4) nothing moves in the
first thousand steps, and with n_disc 5 G gets a fifth of the updates; four models take
another narrow value where that point learned nothing (``PREVIEW_MODEL_OVERRIDES``). ``cpu`` is
the older reduced profile (the author defaults, 50 steps: the pipeline end to end, no
learning). ``smoke`` is for tests. ``auto`` picks ``paper`` on a GPU or TPU, else ``preview``.

A profile's ``fixed_from`` space and ``overrides`` replace the author defaults of the runs
that use them (the ``default`` study and ``train``, where flags still win; never sampled
configurations: :func:`sweeps.studies.profile_hparams`) and show in every row's ``lr``,
``beta1``, ``n_disc``, ``disc_bn``... columns beside the ``profile`` column.
``default_seeds`` replaces the ``default`` study's seeds 0, 1, 2 when no ``--seeds`` is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

# FID's reference split: "default" is each data set's (``DatasetSpec.fid_reference_split``:
# the test split, for CelebA the validation partition as in compare_gan v1); "test" and
# "validation" choose that split wherever the data set is scored with FID
# (docs/protocol.md §7.3, §9.6).
FID_REFERENCES = ("default", "test", "validation")
# Matrix products and convolutions in training and evaluation: "float32" (full float32, as the
# paper trained; jax's "highest") or "tf32" (TensorFloat-32 inputs on GPUs that have it; jax's
# "tensorfloat32"). On CPU both compute in float32 (docs/protocol.md §4.8, §9.7).
MATMUL_PRECISIONS = ("float32", "tf32")


# The preview's per-model points of the narrow space, where the shared one (lr 1e-3, the author
# defaults otherwise) learned nothing in 300 steps on seed 0 and another narrow value did
# (docs/usage.md, "The preview profile": 300-step trials, median squared sample distance to the
# triangles): MM GAN and LSGAN without D batch norm (D's BN: 233 and 151 -> 15.5 and 15.0), WGAN
# clipping at 0.1 (the narrow range is 0.01 .. 1; 188 -> 9.4), BEGAN at lr 2e-4 (all-white
# samples at 1e-3 -> a blob).
PREVIEW_MODEL_OVERRIDES = (
    ("began", (("lr", 2e-4),)),
    ("lsgan", (("disc_bn", False),)),
    ("mm_gan", (("disc_bn", False),)),
    ("wgan", (("clip", 0.1),)),
    # SNGAN keeps its own beta1 0 and n_disc 5 (and beta2 0.9) at the preview's lr 1e-3; the
    # other new models take the shared point (docs/family.md: at their own lr 2e-4 nothing
    # was learned in 300 steps; DCGAN learns at 1e-3).
    ("sngan", (("beta1", 0.0), ("n_disc", 5))),
    # GRAN keeps its authors' beta1 0 (its d_lr_ratio 0.4 is fixed in the narrow space), at
    # the preview's lr 1e-3 for G, and, like MM GAN and LSGAN, trains without D's batch norm
    # (a narrow value): with it nothing was learned in 300 steps (recall distance 184.6), without
    # it 8.16 (docs/protocol.md §13.4, docs/family.md).
    ("gran", (("beta1", 0.0), ("disc_bn", False))),
)


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    steps: int | None  # None: the data set's paper step count
    eval_every: int | None  # None: the data set's paper checkpoint interval
    # each metric's settings that differ from its defaults, by metric name
    # ({"fid": {"samples": 2000}}; metrics.columns declares them); stored as sorted pairs
    metric_settings: Any = ()
    expensive_every_eval: bool = False  # expensive metrics (P/R/F1) at every evaluation too
    grid_size: int = 64  # samples in each PNG grid
    debias_bn: bool = False  # evaluate G with zero-debiased BN averages (train.debias_...)
    # > 0: evaluate G with BN statistics recomputed from this many batches of 64 training-mode
    # passes (benchmark.training.recompute_generator_stats), in place of its running averages
    recompute_bn: int = 0
    max_group: int = 256  # most runs trained at once in one compiled program
    description: str = ""
    # a search space whose fixed values replace the author defaults (see module doc)
    fixed_from: str | None = None
    # then these hyperparameters (sorted (name, value) pairs), where a model has them
    overrides: tuple[tuple[str, Any], ...] = ()
    # then these, per model: (model, ((name, value), ...)) pairs
    model_overrides: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    default_seeds: tuple[int, ...] | None = None  # the default study's seeds (None: 0, 1, 2)
    fid_reference: str = "default"  # FID_REFERENCES
    matmul_precision: str = "float32"  # MATMUL_PRECISIONS

    def __post_init__(self):
        pairs = (self.metric_settings.items() if isinstance(self.metric_settings, Mapping)
                 else self.metric_settings)
        object.__setattr__(self, "metric_settings", tuple(sorted(
            (str(metric), tuple(sorted(dict(values).items()))) for metric, values in pairs)))
        if self.fid_reference not in FID_REFERENCES:
            raise ValueError(f"unknown FID reference {self.fid_reference!r}; choose one of: "
                             f"{', '.join(FID_REFERENCES)}")
        if self.matmul_precision not in MATMUL_PRECISIONS:
            raise ValueError(f"unknown precision {self.matmul_precision!r}; choose one of: "
                             f"{', '.join(MATMUL_PRECISIONS)}")

    def settings(self, metric: str) -> dict[str, Any]:
        """The settings this profile gives ``metric`` (by name), beyond the metric's defaults."""
        return {k: v for m, pairs in self.metric_settings if m == metric for k, v in pairs}

    def schedule(self, paper_steps: int, paper_eval_every: int) -> tuple[int, list[int]]:
        """(total steps, evaluation steps): every ``eval_every`` steps and at the end."""
        total = self.steps or paper_steps
        every = min(self.eval_every or paper_eval_every, total)
        evals = sorted({*range(every, total + 1, every), total})
        return total, evals


PROFILES = {
    "paper": Profile(
        "paper", None, None, expensive_every_eval=True,
        metric_settings={"fid": {"samples": 10_000},
                         "precision_recall": {"samples": 1000, "thorough": True}},
        description="the paper's schedule: 15,625 steps on 28x28 data, evaluated every 3,906",
    ),
    "preview": Profile(
        "preview", 400, 100,
        metric_settings={"fid": {"samples": 2_000}, "precision_recall": {"samples": 200}},
        recompute_bn=16, fixed_from="narrow", overrides=(("lr", 1e-3),),
        model_overrides=PREVIEW_MODEL_OVERRIDES, default_seeds=(0,),
        description="preview: seed 0, 400 steps at lr 1e-3 (BEGAN 2e-4) and the narrow space's "
        "fixed values (beta1 0.5, n_disc 1, ...), evaluated every 100; P/R/F1 (N=200) at the end",
    ),
    "cpu": Profile(
        "cpu", 50, 25,
        metric_settings={"fid": {"samples": 2_000}, "precision_recall": {"samples": 200}},
        debias_bn=True,
        description="reduced: 50 steps, evaluated at 25 and 50; P/R/F1 (N=200) at the end",
    ),
    "smoke": Profile(
        "smoke", 4, 2, grid_size=16,
        metric_settings={"fid": {"samples": 64}, "precision_recall": {"samples": 20}},
        debias_bn=True,
        description="for tests: 4 steps, evaluated at 2 and 4",
    ),
}


def resolve(name: str, backend: str = "cpu") -> Profile:
    """The named profile; ``auto`` is ``paper`` on an accelerator ``backend`` (JAX's
    ``jax.default_backend()``), else ``preview``."""
    if name == "auto":
        name = "preview" if backend == "cpu" else "paper"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: auto, {', '.join(PROFILES)}")
    return PROFILES[name]
