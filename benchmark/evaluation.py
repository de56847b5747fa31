"""What is measured at every evaluation step of a group of runs.

Samples come from each run's G in inference mode on fixed evaluation latents, the same for
every run and checkpoint (PROTOCOL, FID: "the evaluation latents are fixed"). Triangle runs
are scored with precision, recall and F1 (metrics.precision_recall); runs on real images
with FID (metrics.fid) when the Inception weights are available, else with FID-LeNet on
MNIST and Fashion-MNIST.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import jax
import numpy as np

from benchmark.data import ImageDataset
from benchmark.errors import UserError
from benchmark.profiles import Profile
from benchmark.train import (
    RunState,
    Structure,
    generate,
    generator_apply,
    generator_variables,
    sample_latent,
)

EVAL_SEED = 20181203  # the evaluation latents' key: fixed for every run and checkpoint
log = logging.getLogger(__name__)


FID_FEATURES = ("auto", "inception", "lenet", "none")


@dataclasses.dataclass
class Evaluator:
    """Scores the generators of a group of runs on one data set.

    ``fid_feature``: "inception" (PROTOCOL's FID; the weights are downloaded and checksummed
    on first use), "lenet" (FID-LeNet, MNIST and Fashion-MNIST only), "none", or "auto":
    Inception, falling back to FID-LeNet with a warning where the Inception weights cannot
    be obtained (offline machines); the row's ``fid_feature`` column says which was used.
    """

    dataset: str
    data: ImageDataset
    profile: Profile
    fid_feature: str = "auto"
    data_dir: str | None = None
    _reference: Any = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.fid_feature not in FID_FEATURES:
            raise UserError(f"unknown FID feature {self.fid_feature!r}; choose one of: "
                            f"{', '.join(FID_FEATURES)}")

    def latents(self, structure: Structure, n: int) -> jax.Array:
        key = jax.random.PRNGKey(EVAL_SEED)
        return sample_latent(key, (n, structure.z_dim), structure.loss.latent)

    def samples(self, structure: Structure, states: RunState) -> np.ndarray:
        """[runs, grid, h, w, c] samples for the PNG grids."""
        z = self.latents(structure, self.profile.grid_size)
        return np.asarray(generate(states, z, structure=structure))

    def metrics(self, structure: Structure, states: RunState, last: bool) -> dict[str, Any]:
        """Per-run metric arrays [runs] (and constant columns) for this evaluation."""
        if self.dataset == "triangles":
            if last or self.profile.prf_at_every_eval:
                return self._precision_recall(structure, states)
            return {}
        return self._fid(structure, states)

    def _precision_recall(self, structure, states) -> dict[str, np.ndarray]:
        from metrics import inversion, precision_recall

        config = (inversion.THOROUGH_INVERSION if self.profile.thorough_inversion
                  else inversion.DEFAULT_INVERSION)

        return precision_recall.evaluate_generators(
            generator_apply(structure),
            generator_variables(states),
            z_dim=structure.z_dim,
            prior=structure.loss.latent,
            test_images=self.data.as_float(self.data.test),
            key=jax.random.PRNGKey(EVAL_SEED + 1),
            num_samples=self.profile.prf_samples,
            inversion=config,
        )

    def reference(self):
        """(feature, reference statistics, extractor) of this data set's test split, built
        once (the extractor's weights are loaded once, not at every evaluation)."""
        if self._reference is None:
            self._reference = self._build_reference()
        return self._reference

    def _build_reference(self):
        from metrics import fid, lenet

        n = min(self.profile.fid_samples, self.data.test.shape[0])
        images = self.data.as_float(self.data.test[:n])  # PROTOCOL: the first test images
        feature = self.fid_feature
        if feature == "none":
            return None, None, None
        if feature in ("auto", "inception"):
            try:
                extractor = fid.inception_extractor()
                reference = fid.reference_statistics(self.dataset, images, extractor=extractor)
                return "inception", reference, extractor
            except UserError as err:
                if feature == "inception":
                    raise
                if self.dataset not in lenet.DATASETS:
                    log.warning("no FID for %s: %s", self.dataset, err)
                    return None, None, None
                log.warning("Inception weights unavailable (%s); using FID-LeNet for %s",
                            err, self.dataset)
        extractor = lenet.lenet_extractor(self.dataset, self.data_dir)
        reference = fid.reference_statistics(self.dataset, images, extractor=extractor)
        return "lenet", reference, extractor

    def _fid(self, structure, states) -> dict[str, Any]:
        from metrics import fid

        feature, reference, extractor = self.reference()
        if reference is None:
            return {}
        out: dict[str, Any] = fid.evaluate_generators(
            generator_apply(structure), generator_variables(states),
            self.latents(structure, self.profile.fid_samples), reference,
            feature=feature, extractor=extractor,
        )
        out["fid_feature"] = feature
        return out
