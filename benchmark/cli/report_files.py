"""``python -m benchmark report RESULTS_DIR``: the report of a results directory, on disk.

Loads the rows (:func:`benchmark.runner.results.load_rows`) and the sample grids of the runs the
montage shows (:func:`reports.montage.montage_runs`), has :func:`reports.build_report` make
the content with the registered data sets' titles, and writes each file atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark import data
from benchmark.io import atomic_write
from benchmark.runner.results import load_rows, read_image_grid
from reports import build_report, plots
from reports.montage import montage_runs

SUMMARY, MONTAGE = "summary.md", "samples.png"


def montage_samples(results_dir: Path, df: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(label, samples) of each model's montage row: the PNG grid its run wrote at its last
    evaluation (``<study>/samples/<run_id>/step_XXXXXX.png``), cut back into images. Runs
    whose grid is missing (written elsewhere, or deleted) are left out."""
    rows = []
    for pick in montage_runs(df, data.titles()).itertuples():
        study = results_dir / str(getattr(pick, "study", None) or ".")
        path = study / "samples" / pick.run_id / f"step_{pick.step:06d}.png"
        if path.is_file():
            shape = data.get(pick.dataset).image_shape
            rows.append((pick.label, read_image_grid(path.read_bytes(), shape)))
    return rows


def write_report(results_dir: str | Path, out_dir: str | Path | None = None,
                 score: str = "last") -> list[Path]:
    """Write ``summary.md`` (tables), ``summary.csv``, the montage of samples
    (``samples.png``: one row per model) and the figures the metrics allow into ``out_dir``
    (default ``RESULTS_DIR/report``); ``score`` is each run's value in the tables ("last" or
    "best" evaluation). Returns the paths written, ``summary.md`` first."""
    results_dir = Path(results_dir)
    out = Path(out_dir) if out_dir is not None else results_dir / "report"
    df = load_rows(results_dir)
    report = build_report(df, str(results_dir), data.titles(), score,
                          samples=montage_samples(results_dir, df))
    written = [out / SUMMARY, out / "summary.csv"]
    atomic_write(written[0], report.markdown)
    atomic_write(written[1], report.table.to_csv(index=False))
    for name, figure in report.figures.items():
        atomic_write(out / name, plots.png(figure))
        written.append(out / name)
    written += _latent_pngs(results_dir, df, out)
    return written


def _latent_pngs(results_dir: Path, df: pd.DataFrame, out: Path) -> list[Path]:
    """Beside the montage, each montage run's latent walk, nearest training images and (GRAN)
    canvas strip (docs/protocol.md §13.5): ``latent_walk_<dataset>_<model>.png``, ..."""
    written = []
    for pick in montage_runs(df, data.titles()).itertuples():
        for kind in ("latent_walk", "nearest", "canvas"):
            path = results_dir / "samples" / pick.run_id / f"{kind}.png"
            if path.is_file():
                target = out / f"{kind}_{pick.dataset}_{pick.model}.png"
                atomic_write(target, path.read_bytes())
                written.append(target)
    return written
