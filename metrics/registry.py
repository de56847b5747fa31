"""The metric registry: one line per metric (see :class:`metrics.base.Metric`).

The evaluation scores every run with each metric that applies to its data set; the tables,
plots and phase 3's selection read each column's direction and format from here. To add a
metric: write ``metrics/<name>.py`` ending in a ``METRIC = Metric(...)``, then add one line
here, and its columns and settings to :mod:`metrics.columns` (JAX-free: what tables read).
:func:`columns`, :func:`column` and :func:`higher_is_better` are :mod:`metrics.columns`'.
"""

from __future__ import annotations

from metrics import (
    conditional,
    encoder_scores,
    fid,
    nll_oracle,
    precision_recall,
    semi_supervised,
)
from metrics.base import Metric
from metrics.columns import Column, column, columns, higher_is_better

METRICS: dict[str, Metric] = {
    "fid": fid.METRIC,
    "precision_recall": precision_recall.METRIC,
    "conditional": conditional.METRIC,
    "encoder": encoder_scores.METRIC,
    "semi_supervised": semi_supervised.METRIC,
    "nll_oracle": nll_oracle.METRIC,
}


__all__ = ["METRICS", "Column", "Metric", "column", "columns", "higher_is_better"]
