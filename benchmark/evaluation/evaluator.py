"""What is measured at every evaluation step of a task's runs: every registered metric
(:mod:`metrics.registry`) that applies to the data set, and the sample grids.

Samples come from each run's G in inference mode on fixed evaluation latents, the same for
every run and checkpoint (docs/protocol.md §7.3). FID's features are Inception's when its
weights are available, else FID-LeNet on MNIST and Fashion-MNIST (``fid_feature``); its
reference is the first images of the data set's reference split, or of the split the
configuration's ``fidelity.fid_reference`` names (:func:`fid_reference_split`; the FID metric
writes it in the ``fid_reference`` column). Everything is computed under the configuration's
``fidelity.matmul_precision`` (docs/protocol.md §4.8).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import jax
import numpy as np

from benchmark.data import DatasetSpec, ImageDataset
from benchmark.devices import local_mesh
from benchmark.errors import UserError
from benchmark.evaluation import fid_features
from benchmark.training import (
    RunState,
    Structure,
    debias_generator_stats,
    generate,
    generator_apply,
    generator_bn_updates,
    generator_variables,
    matmul_precision,
    recompute_generator_stats,
)
from benchmark.training.generators import (
    discriminator_classify,
    discriminator_variables,
    encoder_of,
    generator_classes,
    generator_codes,
)
from metrics import lenet
from metrics.base import EvalContext, Generators, Metric
from metrics.fid import FidReference
from metrics.registry import METRICS
from models import priors
from sweeps import config as configs
from sweeps.config import Config

EVAL_SEED = 20181203  # the evaluation latents' key: fixed for every run and checkpoint
log = logging.getLogger(__name__)

def fid_reference_split(spec: DatasetSpec, choice: str = "default") -> str | None:
    """The split whose first images are FID's reference on ``spec`` under the config's
    ``fidelity.fid_reference`` (``sweeps.config.FID_REFERENCES``): the data set's own for "default",
    else the named split; None where the data set is not scored with FID. A data set without
    the named split is a ``UserError``."""
    if spec.fid_reference_split is None or choice == "default":
        return spec.fid_reference_split
    if choice not in spec.splits:
        raise UserError(f"{spec.name} has no {choice!r} split for FID's reference; drop "
                        f"--fid-reference {choice} or choose one of: default, "
                        f"{', '.join(s for s in spec.splits if s != 'train')}")
    return choice


def due_metrics(spec: DatasetSpec, config: Config, last: bool) -> list[Metric]:
    """The registered metrics that apply to ``spec`` and are due at an evaluation: all at the
    last one, the expensive ones elsewhere only if the config asks for every evaluation
    (``evaluation.expensive_every_eval``)."""
    due = last or config.evaluation.expensive_every_eval
    return [m for m in METRICS.values() if m.applies_to(spec) and (due or not m.expensive)]


@dataclasses.dataclass
class Evaluator:
    """Scores the generators of a task's runs on one data set.

    The study's configuration (``sweeps.config``) says how: its ``evaluation`` section (each
    metric's settings, the PNG grids, G's batch norm) and ``evaluation.fid_feature``:
    "inception" (the paper's FID; the weights are downloaded and checksummed on first use),
    "lenet" (FID-LeNet, MNIST and Fashion-MNIST only), "none", or "auto": Inception, falling
    back to FID-LeNet with a warning where the Inception weights cannot be obtained (offline
    machines); the row's ``fid_feature`` column says which.
    """

    spec: DatasetSpec
    data: ImageDataset
    config: Config
    _references: dict = dataclasses.field(default_factory=dict, init=False, repr=False)
    _float: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        fid_reference_split(self.spec, self.config.fidelity.fid_reference)  # fails early
        for metric in METRICS.values():  # an unknown metric setting fails early too
            self.settings(metric)

    def settings(self, metric: Metric) -> Any:
        """``metric``'s settings under this config (``evaluation.metrics.<name>``)."""
        try:
            return metric.configure(configs.metric_settings(self.config, metric.name))
        except ValueError as err:
            raise UserError(f"profile {self.config.name}: {err}") from None

    @property
    def fid_feature(self) -> str:
        return self.config.evaluation.fid_feature

    @property
    def data_dir(self) -> str | None:
        return self.config.execution.data_dir

    @property
    def dataset(self) -> str:
        return self.spec.name

    def metrics_for(self, last: bool) -> list[Metric]:
        """The registered metrics that apply to this data set and are due at this evaluation."""
        return due_metrics(self.spec, self.config, last)

    def latents(self, structure: Structure, n: int) -> jax.Array:
        key = jax.random.PRNGKey(EVAL_SEED)
        return priors.sample(key, (n, structure.z_dim), structure.recipe.latent)

    def inference_states(self, structure: Structure, states: RunState, step: int) -> RunState:
        """The states whose G is evaluated at ``step``: its BN running averages as trained
        (paper), zero-debiased (``evaluation.debias_bn``) or recomputed from
        ``evaluation.recompute_bn`` batches of 64 latents drawn from a fixed key of their own
        (``recompute_generator_stats``; the same latents for every run and checkpoint); an
        encoder (held with G, or the VAE's in D's slot) gets its averages recomputed from as
        many batches of 64 train images (:meth:`recompute_images`), not left at the zeros of
        G's pass."""
        if self.config.evaluation.recompute_bn:
            key = jax.random.fold_in(jax.random.PRNGKey(EVAL_SEED), 1)
            z = priors.sample(key, (self.config.evaluation.recompute_bn, 64, structure.z_dim),
                              structure.recipe.latent)
            x = (self.recompute_images(self.config.evaluation.recompute_bn, 64)
                 if encoder_of(structure) is not None else None)
            return recompute_generator_stats(states, z, structure=structure, x=x)
        if self.config.evaluation.debias_bn:
            return debias_generator_stats(states, generator_bn_updates(structure, step))
        return states

    def recompute_images(self, batches: int, size: int) -> np.ndarray:
        """[batches, size, h, w, c] float train images, drawn without replacement from a fixed
        key of their own (the same for every run and checkpoint): the batches an encoder's
        batch-norm averages are recomputed from."""
        train = self.data.split("train")
        size = min(size, len(train))
        n = min(batches * size, len(train)) // size * size
        rng = np.random.default_rng([EVAL_SEED, 2])
        index = np.sort(rng.choice(len(train), n, replace=False))
        return self.data.as_float(train[index]).reshape(n // size, size, *train.shape[1:])

    def samples(self, structure: Structure, states: RunState) -> np.ndarray:
        """[runs, grid, h, w, c] samples for the PNG grids. A G asked for classes (or codes)
        shows K x K samples, class-major: one row per class (docs/protocol.md §12.7)."""
        classes = generator_classes(structure) or generator_codes(structure)
        n = classes * classes if classes else self.config.evaluation.grid_size
        z = self.latents(structure, n)
        with matmul_precision(self.config.fidelity.matmul_precision):
            return np.asarray(generate(states, z, structure=structure))

    def metrics(self, structure: Structure, states: RunState, last: bool) -> dict[str, Any]:
        """Per-run metric arrays [runs] (and constant columns) for this evaluation."""
        due = self.metrics_for(last)
        if not due:
            return {}
        encode_fn, encoder_variables = encoder_of(structure) or (None, None)
        generators = Generators(generator_apply(structure), generator_variables(states),
                                structure.z_dim, structure.recipe.latent,
                                num_classes=generator_classes(structure),
                                codes=generator_codes(structure),
                                encode_fn=encode_fn,
                                classify_fn=discriminator_classify(structure),
                                discriminator_variables=discriminator_variables(states),
                                encoder_variables=(encoder_variables(states)
                                                   if encoder_variables else None))
        out: dict[str, Any] = {}
        with matmul_precision(self.config.fidelity.matmul_precision):
            for metric in due:
                out.update(metric.evaluate(generators, self.context(metric)))
        return out

    def context(self, metric: Metric) -> EvalContext:
        """What ``metric`` sees: the data, the evaluation seed, its settings, the reference."""
        return EvalContext(
            dataset=self.dataset,
            images=self.float_split,
            seed=EVAL_SEED,
            settings=self.settings(metric),
            reference=self.reference,
            mesh=local_mesh(),
            labels=self.data.labels,
            classifier=self.classifier,
            optional_classifier=self.optional_classifier,
        )

    def classifier(self) -> Any:
        """The data set's FID-LeNet classifier and its metadata (trained once, cached), or
        None where the data set has none (docs/protocol.md §7.5, §12.7)."""
        if self.dataset not in lenet.CLASSIFIER_DATASETS:
            return None
        return fid_features.lenet_params(self.dataset, self.data_dir)

    def optional_classifier(self) -> Any:
        """:meth:`classifier`, or None (with a warning) where it cannot be had: its labelled
        files are not given (e.g. the images came from tensorflow-datasets)."""
        try:
            return self.classifier()
        except UserError as err:
            log.warning("no classifier features for %s: %s", self.dataset, err)
            return None

    def float_split(self, split: str) -> np.ndarray:
        """The float32 pixels of ``split``, converted once."""
        if split not in self._float:
            self._float[split] = self.data.as_float(self.data.split(split))
        return self._float[split]

    def reference(self, samples: int) -> FidReference | None:
        """The reference statistics of the first ``samples`` images of this data set's
        reference split (features, extractor, statistics), built once per size (the
        extractor's weights are loaded once, not at every evaluation)."""
        if samples not in self._references:
            self._references[samples] = self._build_reference(samples)
        return self._references[samples]

    def _build_reference(self, samples: int) -> FidReference | None:
        split = fid_reference_split(self.spec, self.config.fidelity.fid_reference)
        if split is None or self.fid_feature == "none":
            return None
        stored = self.data.split(split)
        n = min(samples, stored.shape[0])
        images = self.data.as_float(stored[:n])  # the first images of the reference split
        feature = self.fid_feature
        if feature in ("auto", "inception"):
            try:
                extractor = fid_features.inception_extractor()
                return FidReference("inception", extractor, self._statistics(images, extractor,
                                                                             split))
            except UserError as err:
                if feature == "inception":
                    raise
                if self.dataset not in lenet.DATASETS:
                    log.warning("no FID for %s: %s", self.dataset, err)
                    return None
                log.warning("Inception weights unavailable (%s); using FID-LeNet for %s",
                            err, self.dataset)
        extractor = fid_features.lenet_extractor(self.dataset, self.data_dir)
        return FidReference("lenet", extractor, self._statistics(images, extractor, split))

    def _statistics(self, images, extractor, split):
        return fid_features.reference_statistics(self.dataset, images, extractor, split=split,
                                                 mesh=local_mesh())
