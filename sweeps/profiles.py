"""Profiles: how long runs train and how finely they are evaluated.

``paper``: the schedule of docs/protocol.md §4.5 (each data set's steps and eval interval, FID on
10,000 samples). ``cpu`` is the reduced profile that the default ``make sweep`` uses on a
machine without an accelerator: the same models, losses and hyperparameters, far fewer steps,
so that 8 models x 3 seeds finish within a quarter of an hour on 2 cores (README, Speed).
``smoke`` is for tests. ``auto`` picks ``paper`` on a GPU or TPU, else ``cpu``.
"""

from __future__ import annotations

import dataclasses

# FID's reference split: "default" is each data set's (``DatasetSpec.fid_reference_split``:
# the test split, for CelebA the validation partition as in compare_gan v1); "test" and
# "validation" choose that split wherever the data set is scored with FID
# (docs/protocol.md §7.3, §9.6).
FID_REFERENCES = ("default", "test", "validation")
# Matrix products and convolutions in training and evaluation: "float32" (full float32, as the
# paper trained; jax's "highest") or "tf32" (TensorFloat-32 inputs on GPUs that have it; jax's
# "tensorfloat32"). On CPU both compute in float32 (docs/protocol.md §4.8, §9.7).
MATMUL_PRECISIONS = ("float32", "tf32")


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
    fid_reference: str = "default"  # FID_REFERENCES
    matmul_precision: str = "float32"  # MATMUL_PRECISIONS

    def __post_init__(self):
        if self.fid_reference not in FID_REFERENCES:
            raise ValueError(f"unknown FID reference {self.fid_reference!r}; choose one of: "
                             f"{', '.join(FID_REFERENCES)}")
        if self.matmul_precision not in MATMUL_PRECISIONS:
            raise ValueError(f"unknown precision {self.matmul_precision!r}; choose one of: "
                             f"{', '.join(MATMUL_PRECISIONS)}")

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
        description="the paper's schedule: 15,625 steps on 28x28 data, evaluated every 3,906",
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
    ``jax.default_backend()``), else ``cpu``."""
    if name == "auto":
        name = "cpu" if backend == "cpu" else "paper"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: auto, {', '.join(PROFILES)}")
    return PROFILES[name]
