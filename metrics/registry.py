"""The metric registry: one line per metric (see :class:`metrics.base.Metric`).

The evaluation scores every run with each metric that applies to its data set; the tables,
plots and phase 3's selection read each column's direction and format from here. To add a
metric: write ``metrics/<name>.py`` ending in a ``METRIC = Metric(...)``, then add one line.
"""

from __future__ import annotations

from metrics import fid, precision_recall
from metrics.base import Column, Metric

METRICS: dict[str, Metric] = {
    "fid": fid.METRIC,
    "precision_recall": precision_recall.METRIC,
}


def columns() -> dict[str, Column]:
    """Every registered column by name, in registry order."""
    return {c.name: c for metric in METRICS.values() for c in metric.columns}


def column(name: str) -> Column | None:
    """The registered column ``name``, or None for a column no metric produces."""
    return columns().get(name)


def higher_is_better(name: str) -> bool:
    """Direction of column ``name``; unknown columns count as lower-is-better (losses)."""
    found = column(name)
    return found is not None and found.higher_is_better


__all__ = ["METRICS", "Column", "Metric", "column", "columns", "higher_is_better"]
