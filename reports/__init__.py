"""Reports of a study: tables (``reports.tables``) and figures (``reports.plots``).

:func:`write_report` is what ``python -m benchmark report RESULTS_DIR`` runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.results import atomic_write_bytes, load_rows
from reports import plots, tables


def _plottable(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    values = pd.to_numeric(df[metric], errors="coerce") if metric in df else None
    return df.iloc[0:0] if values is None else df[np.isfinite(values)]


def write_report(results_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write ``summary.md`` (tables), ``summary.csv`` and the figures the metrics allow.

    Figures per measured metric: learning curves where a run has more than one evaluation,
    the budget plot where a model has more than one run, and box plots. ``out_dir``
    defaults to ``RESULTS_DIR/report``. Returns the paths written.
    """
    results_dir = Path(results_dir)
    out = Path(out_dir) if out_dir is not None else results_dir / "report"
    df = load_rows(results_dir)
    table = tables.summary(df)
    written: list[Path] = []
    figures: list[tuple[str, Path]] = []
    for metric in tables.summary_metrics(table):
        finite = _plottable(df, metric)
        if finite.empty:
            continue
        if finite.groupby("run_id")["step"].nunique().max() > 1:
            path = plots.learning_curves(df, metric, out / f"curves_{metric}.png")
            figures.append((f"{metric} during training", path))
        if finite.groupby(["dataset", "model"])["run_id"].nunique().max() > 1:
            path = plots.budget_plot(df, metric, out / f"budget_{metric}.png")
            figures.append((f"expected best {metric} vs number of configurations", path))
            path = plots.metric_boxplot(df, metric, out / f"box_{metric}.png")
            figures.append((f"final {metric} over runs", path))

    lines = [f"# Results of {results_dir}", "",
             f"{df['run_id'].nunique()} runs, {len(df)} evaluations. Mean ± std (ddof=1) of "
             "each run's last evaluation; failed runs are counted, not averaged.", "",
             tables.format_summary(table)]
    comparison = tables.compare_to_paper(df)
    if not comparison.empty:
        lines += ["## FID against the paper (phase 3, 50 seeds)", "",
                  tables.format_comparison(comparison)]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{title}]({path.name})" for title, path in figures]
    summary_md = out / "summary.md"
    atomic_write_bytes(summary_md, ("\n".join(lines) + "\n").encode())
    summary_csv = out / "summary.csv"
    atomic_write_bytes(summary_csv, table.to_csv(index=False).encode())
    written += [summary_md, summary_csv] + [path for _, path in figures]
    return written


__all__ = ["plots", "tables", "write_report"]
