"""What each metric declares, importable without JAX: its result columns and its settings.

``reports`` and ``sweeps`` read the columns' direction, format, title and phase-3 selection from
here, so a table or a study never imports JAX. A metric's entry in :mod:`metrics.registry`
(``metrics/<name>.py``) uses the same declarations; when the registry is loaded (training,
evaluation, tests that register a metric) :func:`columns` follows it, registrations included.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Column:
    """One result column: how to read it and print it.

    ``selects``: phase 3 may pick a data set's best configuration by this column.
    ``qualifier``: a string column of the same rows naming how the value was computed (FID's
    features); tables print it beside the values. ``preferred``: the qualifier's value that
    phase 3 selects among where any row has it (the paper's features).
    """

    name: str
    higher_is_better: bool
    decimals: int = 3
    selects: bool = False
    description: str = ""
    title: str = ""  # the name in sentences ("FID"); the column name if empty
    qualifier: str | None = None
    preferred: str | None = None

    @property
    def label(self) -> str:
        return self.title or self.name


# --- FID, IS, KID (metrics/fid.py; docs/protocol.md §7) ---------------------------------------


@dataclasses.dataclass(frozen=True)
class FidSettings:
    """FID's settings: ``samples`` generated and real images (docs/protocol.md §7.3: 10,000)."""

    samples: int = 10_000


FID_COLUMNS = (
    Column("fid", higher_is_better=False, decimals=1, selects=True, title="FID",
           qualifier="fid_feature", preferred="inception",
           description="Fréchet Inception Distance (or FID-LeNet; see fid_feature)"),
    Column("inception_score", higher_is_better=True, decimals=2, title="Inception score"),
    Column("kid", higher_is_better=False, decimals=4, title="KID"),
)


# --- precision, recall, F1 on the triangles (metrics/precision_recall.py; §8) ----------------


@dataclasses.dataclass(frozen=True)
class PrecisionRecallSettings:
    """P/R/F1's settings: ``samples`` (N) samples and test triangles (docs/protocol.md §8);
    ``thorough``: recall's longer G inversion (``metrics.inversion.THOROUGH_INVERSION``);
    ``precision_samples``: the generated samples precision is scored on, where it differs from
    the test triangles recall inverts (None: ``samples``). Precision costs ~2 ms a sample,
    recall's inversion ~20 ms, so a profile may score precision on more (the preview: 1,000
    and 200)."""

    samples: int = 1000
    thorough: bool = False
    precision_samples: int | None = None


PRECISION_RECALL_COLUMNS = (
    Column("precision", higher_is_better=True, decimals=3,
           description="fraction of samples within delta of the triangle manifold"),
    Column("recall", higher_is_better=True, decimals=3,
           description="fraction of test triangles G reproduces within delta"),
    Column("f1", higher_is_better=True, decimals=3, selects=True, title="F1",
           description="harmonic mean of precision and recall"),
    Column("precision_distance", higher_is_better=False, decimals=2,
           description="median squared L2 distance of the samples to the triangle "
           "manifold (the delta where precision is 0.5)"),
    Column("recall_distance", higher_is_better=False, decimals=2,
           description="median squared L2 distance of the test triangles to G's range "
           "(the delta where recall is 0.5)"),
    Column("f1_auc", higher_is_better=True, decimals=3,
           description="normalised area under F1 against log2(delta), delta 1/8 .. 8"),
)


# --- conditional and code-learning models (metrics/conditional.py; §12.7) -------------------


@dataclasses.dataclass(frozen=True)
class ConditionalSettings:
    """``per_class`` samples per class (or per code value) labelled by the classifier."""

    per_class: int = 100


CONDITIONAL_COLUMNS = (
    Column("class_accuracy", higher_is_better=True, decimals=3, title="class accuracy",
           description="fraction of samples of class y the data set's classifier labels y"),
    Column("intra_fid", higher_is_better=False, decimals=1, title="intra-FID",
           description="mean over classes of the FID-LeNet of a class's samples against the "
           "class's test images"),
    Column("code_accuracy", higher_is_better=True, decimals=3, title="code accuracy",
           description="accuracy of the categorical code as a classifier after matching code "
           "values to classes one-to-one (Hungarian)"),
    Column("classifier_accuracy", higher_is_better=True, decimals=3,
           description="the classifier's own test accuracy (the ceiling of class accuracy)"),
)


# --- models with an encoder (metrics/encoder_scores.py; §12.8) --------------------------------


@dataclasses.dataclass(frozen=True)
class EncoderSettings:
    """Test images reconstructed and encoded (``test_samples``), train images the 1-NN and
    the probe are fitted on (``train_samples``); for an unconditional G without an encoder,
    the first ``inversion_samples`` of those test images reconstructed by inversion, min_z
    |G(z) - x|^2 (0: none)."""

    test_samples: int = 1000
    train_samples: int = 10_000
    inversion_samples: int = 200


ENCODER_COLUMNS = (
    Column("recon_pixel", higher_is_better=False, decimals=2,
           description="mean squared L2 distance |G(E(x)) - x|^2 over test images, in pixels "
           "(a G without an encoder: min_z |G(z) - x|^2, by inversion)"),
    Column("recon_lenet", higher_is_better=False, decimals=2,
           description="the same in FID-LeNet features"),
    Column("nn_accuracy", higher_is_better=True, decimals=3, title="1-NN accuracy",
           description="test accuracy of the 1-nearest-neighbour classifier on E(x)"),
    Column("probe_accuracy", higher_is_better=True, decimals=3, title="probe accuracy",
           description="test accuracy of logistic regression on E(x)"),
)


# --- the semi-supervised GAN's D as a classifier (metrics/semi_supervised.py; §12.7) ---------


@dataclasses.dataclass(frozen=True)
class SemiSupervisedSettings:
    """Every test image is classified, ``batch_size`` images per call of D."""

    batch_size: int = 1000


SEMI_SUPERVISED_COLUMNS = (
    Column("test_errors", higher_is_better=False, decimals=0, title="test errors",
           description="test images D misclassifies (semi-supervised GAN; Salimans et al. "
           "2016 count them of 10,000)"),
    Column("test_error", higher_is_better=False, decimals=4, title="test error",
           description="fraction of test images D misclassifies (semi-supervised GAN)"),
)


# --- sequence generators on SeqGAN's oracle (metrics/nll_oracle.py; §11.4) -------------------


@dataclasses.dataclass(frozen=True)
class NllOracleSettings:
    """None of its own: the number of samples scored is the SeqGAN schedule's
    ``eval_samples`` (``benchmark.training.seqgan.Schedule``), which the profile names."""


NLL_ORACLE_COLUMNS = (
    Column("nll_oracle", higher_is_better=False, decimals=3, selects=True, title="NLL-oracle",
           description="oracle NLL per token of the generator's samples (SeqGAN §4)"),
    Column("nll_test", higher_is_better=False, decimals=3, title="NLL-test",
           description="the generator's NLL per token of held-out oracle samples"),
)


# Every registered metric's columns by metric name, in registry order (metrics/registry.py has
# the same names in the same order; tests/reports/test_reports.py checks it).
DECLARED: dict[str, tuple[Column, ...]] = {
    "fid": FID_COLUMNS,
    "precision_recall": PRECISION_RECALL_COLUMNS,
    "conditional": CONDITIONAL_COLUMNS,
    "encoder": ENCODER_COLUMNS,
    "semi_supervised": SEMI_SUPERVISED_COLUMNS,
    "nll_oracle": NLL_ORACLE_COLUMNS,
}


# Each metric's settings by the metric's name (``metrics.registry.METRICS``): the defaults the
# configuration starts from (``sweeps.config``: ``evaluation.metrics.<name>.<setting>``).
SETTINGS: dict[str, type] = {
    "fid": FidSettings,
    "precision_recall": PrecisionRecallSettings,
    "conditional": ConditionalSettings,
    "encoder": EncoderSettings,
    "semi_supervised": SemiSupervisedSettings,
    "nll_oracle": NllOracleSettings,
}


def columns() -> dict[str, Column]:
    """Every registered column by name, in registry order: the loaded registry's (with any
    metric registered at run time) if something imported it, else the declarations above."""
    registry = sys.modules.get("metrics.registry")
    by_metric: Mapping[str, Any] = (
        {name: m.columns for name, m in registry.METRICS.items()} if registry is not None
        else DECLARED)
    return {c.name: c for cols in by_metric.values() for c in cols}


def column(name: str) -> Column | None:
    """The registered column ``name``, or None for a column no metric produces."""
    return columns().get(name)


def higher_is_better(name: str) -> bool:
    """Direction of column ``name``; unknown columns count as lower-is-better (losses)."""
    found = column(name)
    return found is not None and found.higher_is_better


def selection_columns() -> list[Column]:
    """The columns phase 3 may select on, in registry order."""
    return [c for c in columns().values() if c.selects]


__all__ = ["DECLARED", "Column", "ConditionalSettings", "EncoderSettings", "FidSettings",
           "NllOracleSettings",
           "PrecisionRecallSettings", "SemiSupervisedSettings", "column", "columns",
           "higher_is_better", "selection_columns"]
