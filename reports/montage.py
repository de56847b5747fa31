"""The study's samples side by side: one row of samples per model at its last evaluation.

:func:`montage_runs` picks, from a frame of result rows, the run whose samples stand for each
(data set, model): its first run (lowest configuration, then seed) at its last evaluation, with
a label (the model's title and the score phase 3 selects on). :func:`sample_montage` draws
the rows from sample arrays. Nothing here reads files: the caller reads the sample grids
(``benchmark.cli.report_files``) and passes arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports.tables import (
    Titles,
    dataset_order,
    dataset_title,
    decimals,
    final_rows,
    model_order,
    model_title,
)
from sweeps.studies import selection_score

SAMPLES_PER_ROW = 16
LABEL_EXTRAS = ("precision_distance",)  # shown beside the selecting score where measured


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def montage_runs(df: pd.DataFrame, titles: Titles = None) -> pd.DataFrame:
    """One row per (data set, model), in the reports' order: ``dataset, model, run_id, step,
    label`` of the model's first run (lowest ``config``, then ``seed``, then ``run_id``) at
    its last evaluation. The label is the model's title (with the data set's when the frame
    holds several), and the run's score on the column phase 3 selects on (F1 on the
    triangles, FID elsewhere) and its samples' median distance to the triangles, where
    finite. ``study`` (the run's study directory) is added where the rows have it."""
    columns = ["dataset", "model", *(["study"] if "study" in df else []), "run_id", "step",
               "label"]
    final = final_rows(df)
    if final.empty:
        return pd.DataFrame(columns=columns)
    several = final["dataset"].nunique() > 1
    picked = []
    for dataset in dataset_order(final["dataset"].unique(), titles):
        part = final[final["dataset"] == dataset]
        score = selection_score(part)
        for model in model_order(part["model"].unique()):
            runs = part[part["model"] == model]
            order = [c for c in ("config", "seed", "run_id") if c in runs]
            row = runs.sort_values(order, kind="stable").iloc[0]
            label = model_title(model)
            if several:
                label += f" ({dataset_title(dataset, titles)})"
            scores = [f"{name} {value:.{decimals(name)}f}"
                      for name in ([score[0]] if score else []) + list(LABEL_EXTRAS)
                      if np.isfinite(value := _number(row.get(name)))]
            if scores:
                label += "\n" + ", ".join(scores)
            picked.append({"dataset": dataset, "model": model, "study": row.get("study"),
                           "run_id": row["run_id"], "step": int(row["step"]), "label": label})
    return pd.DataFrame(picked, columns=columns)


def strip(samples: np.ndarray, gap: int = 1) -> np.ndarray:
    """Images [n, h, w, c] in [0, 1] side by side, ``gap`` white pixels apart: [h, W, c]."""
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 4 or samples.shape[0] == 0:
        raise ValueError(f"samples must be a non-empty [n, h, w, c] array, got shape "
                         f"{samples.shape}")
    n, h, w, c = samples.shape
    out = np.ones((h, n * (w + gap) - gap, c), np.float32)
    for i, image in enumerate(np.clip(np.nan_to_num(samples, nan=0.0), 0.0, 1.0)):
        out[:, i * (w + gap): i * (w + gap) + w] = image
    return out


def sample_montage(rows: Sequence[tuple[str, np.ndarray]],
                   per_row: int = SAMPLES_PER_ROW) -> Figure:
    """One labelled row per entry of ``rows`` (label, samples [n, h, w, c] in [0, 1]): the
    first ``per_row`` samples side by side, the label on the left. Returns the figure (one
    axes per row, its y label the row's label)."""
    if not rows:
        raise ValueError("no samples to draw; the study has no evaluated run yet")
    strips = [strip(np.asarray(s)[:per_row]) for _, s in rows]
    height, width = max(s.shape[0] for s in strips), max(s.shape[1] for s in strips)
    inch = 0.018  # per pixel: a 28x28 sample is half an inch
    fig = Figure(figsize=(1.6 + width * inch, 0.15 + len(rows) * (height * inch + 0.12)),
                 layout="constrained")
    FigureCanvasAgg(fig)
    for i, ((label, _), image) in enumerate(zip(rows, strips, strict=True)):
        ax = fig.add_subplot(len(rows), 1, i + 1)
        gray = image.shape[-1] == 1
        ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None, vmin=0.0,
                  vmax=1.0, interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    return fig

