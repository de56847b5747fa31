"""``python -m benchmark report RESULTS_DIR``: the report of a results directory, on disk.

Loads the rows (:func:`benchmark.runner.results.load_rows`) and the sample grids of the runs the
montage shows (:func:`reports.montage.montage_runs`), has :func:`reports.build_report` make
the content with the registered data sets' titles, and writes each file atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import models
from benchmark import data
from benchmark.io import atomic_write
from benchmark.runner.engine import RECON_PNG
from benchmark.runner.results import load_rows, read_image_grid
from reports import build_report, plots
from reports.montage import montage_runs

SUMMARY, MONTAGE = "summary.md", "samples.png"


def class_rows(model: str, arch: str | None) -> str | None:
    """What the rows of a run's sample grid are where its G is asked for classes or codes
    (a conditional architecture: K x K samples, class-major; docs/protocol.md §12.7):
    "classes", "code values" (a model that needs no labels: InfoGAN), or None."""
    try:
        recipe = models.get(model)
        conditional = models.architecture(arch if isinstance(arch, str) else
                                          recipe.arch).conditional
    except ValueError:  # a model or architecture registered elsewhere (a test's toy)
        return None
    if not conditional:
        return None
    return "classes" if "labels" in recipe.needs else "code values"


def montage_samples(results_dir: Path, df: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(label, samples) of each model's montage row: the PNG grid its run wrote at its last
    evaluation (``<study>/samples/<run_id>/step_XXXXXX.png``), cut back into images; a
    conditional model's K x K grid as [K, K, h, w, c], one row per class or code value
    (:func:`class_rows`); below a model with an encoder, a row of test images above a row
    of their reconstructions (``reconstruction.png``, docs/protocol.md §12.8). Runs whose
    grid is missing (written elsewhere, or deleted) are left out."""
    rows = []
    archs = dict(zip(df["run_id"], df["arch"], strict=True)) if "arch" in df else {}
    for pick in montage_runs(df, data.titles()).itertuples():
        study = results_dir / str(getattr(pick, "study", None) or ".")
        path = study / "samples" / pick.run_id / f"step_{pick.step:06d}.png"
        if not path.is_file():
            continue
        shape = data.get(pick.dataset).image_shape
        samples = read_image_grid(path.read_bytes(), shape)
        label, per = pick.label, class_rows(pick.model, archs.get(pick.run_id))
        k = int(round(math.sqrt(samples.shape[0])))
        if per is not None and k * k == samples.shape[0]:
            samples = samples.reshape(k, k, *shape)
            label = f"{label}\nrows: {per} 0-{k - 1}"
        rows.append((label, samples))
        recon = study / "samples" / pick.run_id / RECON_PNG
        if recon.is_file():  # a model with an encoder: test images above G(E(x))
            pairs = read_image_grid(recon.read_bytes(), shape)
            rows.append((f"{pick.label}\nx / G(E(x))", pairs.reshape(2, -1, *shape)))
    return rows


SEQUENCES_TXT = "samples.txt"  # benchmark.runner.sequences.SAMPLES_TXT


def sequence_samples(results_dir: Path, df: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, text) of each sequence model's montage run: the decoded samples (token ids,
    one sequence a line) it wrote at its last evaluation, ``samples/<run_id>/samples.txt``
    (SeqGAN on its oracle, where there are no images); runs without one are left out."""
    found = []
    for pick in montage_runs(df, data.titles()).itertuples():
        study = results_dir / str(getattr(pick, "study", None) or ".")
        path = study / "samples" / pick.run_id / SEQUENCES_TXT
        if path.is_file():
            found.append((pick.label.replace("\n", ", "), path.read_text()))
    return found


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
                          samples=montage_samples(results_dir, df),
                          sequences=sequence_samples(results_dir, df))
    written = [out / SUMMARY, out / "summary.csv"]
    atomic_write(written[0], report.markdown)
    atomic_write(written[1], report.table.to_csv(index=False))
    for name, figure in report.figures.items():
        atomic_write(out / name, plots.png(figure))
        written.append(out / name)
    written += _latent_pngs(results_dir, df, out)
    return written


def _latent_pngs(results_dir: Path, df: pd.DataFrame, out: Path) -> list[Path]:
    """Beside the montage, each montage run's latent walk, nearest training images, (GRAN)
    canvas strip (docs/protocol.md §13.5) and (a model with an encoder) reconstructions:
    ``latent_walk_<dataset>_<model>.png``, ..."""
    written = []
    for pick in montage_runs(df, data.titles()).itertuples():
        for kind in ("latent_walk", "nearest", "canvas", "reconstruction"):
            path = results_dir / "samples" / pick.run_id / f"{kind}.png"
            if path.is_file():
                target = out / f"{kind}_{pick.dataset}_{pick.model}.png"
                atomic_write(target, path.read_bytes())
                written.append(target)
    return written
