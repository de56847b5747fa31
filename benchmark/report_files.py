"""``python -m benchmark report RESULTS_DIR``: the report of a results directory, on disk.

Loads the rows (:func:`benchmark.results.load_rows`), has :func:`reports.build_report` make
the content with the registered data sets' titles, and writes each file atomically.
"""

from __future__ import annotations

from pathlib import Path

from benchmark import data
from benchmark.io import atomic_write
from benchmark.results import load_rows
from reports import build_report, plots


def write_report(results_dir: str | Path, out_dir: str | Path | None = None,
                 score: str = "last") -> list[Path]:
    """Write ``summary.md`` (tables), ``summary.csv`` and the figures the metrics allow into
    ``out_dir`` (default ``RESULTS_DIR/report``); ``score`` is each run's value in the tables
    ("last" or "best" evaluation). Returns the paths written."""
    results_dir = Path(results_dir)
    out = Path(out_dir) if out_dir is not None else results_dir / "report"
    report = build_report(load_rows(results_dir), str(results_dir), data.titles(), score)
    written = [out / "summary.md", out / "summary.csv"]
    atomic_write(written[0], report.markdown)
    atomic_write(written[1], report.table.to_csv(index=False))
    for name, figure in report.figures.items():
        atomic_write(out / name, plots.png(figure))
        written.append(out / name)
    return written
