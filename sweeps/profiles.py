"""Profiles: how long runs train and how finely they are evaluated.

``paper`` is PROTOCOL's schedule (each data set's step count and checkpoint interval, FID on
10,000 samples). ``preview`` is what the default ``make sweep`` uses on a machine without an
accelerator: a study that shows learning within a quarter of an hour on 2 CPU cores (README,
"The preview profile"): the study's eight models at full width, but one seed, a few hundred
steps, and a learning rate and beta1 from the narrow search space (``overrides``) in place of
the author defaults, because at the author learning rates (5e-5 .. 2e-4) nothing moves in
the first thousand steps. ``cpu`` is the older reduced profile (the author defaults, 50
steps: the pipeline end to end, no learning). ``smoke`` is for tests. ``auto`` picks
``paper`` on a GPU or TPU, else ``preview``.

A profile's ``overrides`` replace the author defaults of the runs that use them (the
``default`` study, ``train`` unless a flag says otherwise; never sampled configurations) and
show in every row's ``lr``/``beta1``/... columns beside the ``profile`` column;
``default_seeds`` replaces the ``default`` study's seeds 0, 1, 2 when no ``--seeds`` is given.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    steps: int | None  # None: the data set's paper step count
    eval_every: int | None  # None: the data set's paper checkpoint interval
    prf_samples: int  # N of precision/recall/F1 on the triangles
    prf_at_every_eval: bool  # False: only at the last evaluation
    fid_samples: int  # generated and real images for FID
    grid_size: int = 64  # samples in each PNG grid
    thorough_inversion: bool = False  # recall's G inversion: metrics.inversion.THOROUGH_INVERSION
    debias_bn: bool = False  # evaluate G with zero-debiased BN averages (train.debias_...)
    max_group: int = 256  # most runs trained at once in one compiled program
    description: str = ""
    # hyperparameters replacing the author defaults (sorted (name, value) pairs; see module doc)
    overrides: tuple[tuple[str, float], ...] = ()
    default_seeds: tuple[int, ...] | None = None  # the default study's seeds (None: 0, 1, 2)

    def overrides_for(self, hyperparameters) -> dict[str, float]:
        """The profile's overrides that apply to a model with these hyperparameter names."""
        return {k: v for k, v in self.overrides if k in hyperparameters}

    def schedule(self, paper_steps: int, paper_eval_every: int) -> tuple[int, list[int]]:
        """(total steps, evaluation steps): every ``eval_every`` steps and at the end."""
        total = self.steps or paper_steps
        every = min(self.eval_every or paper_eval_every, total)
        evals = sorted({*range(every, total + 1, every), total})
        return total, evals


PROFILES = {
    "paper": Profile(
        "paper", None, None, prf_samples=1000, prf_at_every_eval=True, fid_samples=10_000,
        thorough_inversion=True,
        description="PROTOCOL's schedule: 15,625 steps on 28x28 data, evaluated every 3,906",
    ),
    "preview": Profile(
        "preview", 300, 100, prf_samples=200, prf_at_every_eval=False, fid_samples=2_000,
        debias_bn=True, overrides=(("beta1", 0.5), ("lr", 1e-3)), default_seeds=(0,),
        description="preview: 300 steps at lr 1e-3, beta1 0.5 (narrow space), evaluated every "
        "100; P/R/F1 (N=200) at the end",
    ),
    "cpu": Profile(
        "cpu", 50, 25, prf_samples=200, prf_at_every_eval=False, fid_samples=2_000,
        debias_bn=True,
        description="reduced: 50 steps, evaluated at 25 and 50; P/R/F1 (N=200) at the end",
    ),
    "smoke": Profile(
        "smoke", 4, 2, prf_samples=20, prf_at_every_eval=False, fid_samples=64, grid_size=16,
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
