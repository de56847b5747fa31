"""Figures of the study: learning curves, score vs budget (the paper's Fig. 4) and box plots.

Figures are drawn on matplotlib's Agg canvas without pyplot (no global state), one panel per
data set. Every function returns the :class:`~matplotlib.figure.Figure`; :func:`png` turns one
into PNG bytes (the caller writes files; in a notebook the figure displays itself).
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from metrics import scores as run_score
from reports.tables import (
    Titles,
    dataset_order,
    dataset_title,
    final_rows,
    higher_is_better,
    metric_names,
    model_order,
    model_title,
)

BUDGET_RESAMPLES = 2000
BUDGET_SEED = 0


def _finite(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    if metric not in df:
        present = [m for m in metric_names() if m in df]
        raise ValueError(f"no {metric!r} column in the results; choose one of the measured "
                         f"metrics: {', '.join(present) or '(none)'}")
    values = pd.to_numeric(df[metric], errors="coerce")
    out = df.assign(**{metric: values})[np.isfinite(values)]
    if out.empty:
        raise ValueError(f"no finite {metric!r} values in the results to plot")
    return out


def _figure(n_panels: int) -> tuple[Figure, list]:
    cols = min(n_panels, 3)
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(5.0 * cols, 3.8 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n_panels)]
    return fig, axes


def _colors(models: list[str]) -> dict[str, tuple]:
    cmap = colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(models)}


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _label(metric: str) -> str:
    return f"{metric} ({'higher' if higher_is_better(metric) else 'lower'} is better)"


def learning_curves(df: pd.DataFrame, metric: str, titles: Titles = None) -> Figure:
    """``metric`` against training step per model: mean over runs and a ±1 std band."""
    data = _finite(df, metric)
    datasets = dataset_order(data["dataset"].unique(), titles)
    models = model_order(data["model"].unique())
    colors = _colors(models)
    fig, axes = _figure(len(datasets))
    for ax, dataset in zip(axes, datasets, strict=True):
        part = data[data["dataset"] == dataset]
        for model in models:
            curve = part[part["model"] == model].groupby("step")[metric].agg(["mean", "std"])
            if curve.empty:
                continue
            steps, mean, std = curve.index.to_numpy(), curve["mean"], curve["std"].fillna(0.0)
            ax.plot(steps, mean, marker="o", ms=3, color=colors[model], label=model_title(model))
            ax.fill_between(steps, mean - std, mean + std, color=colors[model], alpha=0.2)
        ax.set_title(dataset_title(dataset, titles))
        # sequence rows (SeqGAN on its oracle) count MLE epochs, then adversarial batches
        sequences = "phase" in part and part["phase"].notna().any()
        ax.set_xlabel("step (MLE epochs, then + adversarial batches)" if sequences
                      else "step (D updates)")
        ax.set_ylabel(_label(metric))
        ax.legend(fontsize=7)
    return fig


def run_scores(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One score per run (by study and run id): its best ``metric`` over the checkpoints not
    marked failed (``metrics.scores.run_scores``, policy ``best``; NaN if never finite).

    A failed run keeps its finite checkpoints before the failure; a run that never had one is
    NaN: in a budget it costs a configuration and gives nothing. Data sets where ``metric``
    is never measured are left out.
    """
    per_run = run_score.run_scores(df, metric, "best")
    cols = [c for c in ("dataset", "model", "config", "seed", *run_score.run_key(df))
            if c in df]
    scores = per_run[cols].assign(**{metric: per_run["value"].astype(float)})
    measured = scores.groupby("dataset")[metric].transform(lambda v: v.notna().any())
    return scores[measured.astype(bool)].reset_index(drop=True)


def expected_best(
    scores: np.ndarray,
    budgets: np.ndarray,
    *,
    higher_better: bool,
    n_resamples: int = BUDGET_RESAMPLES,
    seed: int = BUDGET_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, 5th, 95th percentile) of the best of k configurations drawn with replacement.

    For every budget k, ``n_resamples`` sets of k scores are drawn from ``scores`` (NaN for a
    failed configuration); a set's best ignores NaN, and a set of failures only is left out.
    """
    scores = np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    worst = -np.inf if higher_better else np.inf
    filled = np.where(np.isfinite(scores), scores, worst)
    means, lows, highs = [], [], []
    for k in np.asarray(budgets, int):
        draws = filled[rng.integers(0, len(scores), size=(n_resamples, int(k)))]
        best = draws.max(axis=1) if higher_better else draws.min(axis=1)
        best = best[np.isfinite(best)]
        lo, hi = np.percentile(best, [5, 95]) if best.size else (np.nan, np.nan)
        means.append(best.mean() if best.size else np.nan)
        lows.append(lo)
        highs.append(hi)
    return np.array(means), np.array(lows), np.array(highs)


def budget_plot(df: pd.DataFrame, metric: str, titles: Titles = None) -> Figure:
    """The paper's Fig. 4: expected best ``metric`` against the number of sampled configs.

    Each run's score is its best over checkpoints; for each model and budget k the best of k
    runs drawn with replacement is averaged over resamples (band: 5th to 95th percentile).
    """
    _finite(df, metric)
    scores = run_scores(df, metric)
    datasets = dataset_order(scores["dataset"].unique(), titles)
    models = model_order(scores["model"].unique())
    colors = _colors(models)
    higher = higher_is_better(metric)
    fig, axes = _figure(len(datasets))
    for ax, dataset in zip(axes, datasets, strict=True):
        part = scores[scores["dataset"] == dataset]
        for model in models:
            values = part.loc[part["model"] == model, metric].to_numpy(float)
            if not np.isfinite(values).any():
                continue
            budgets = np.arange(1, len(values) + 1)
            mean, lo, hi = expected_best(values, budgets, higher_better=higher)
            ax.plot(budgets, mean, color=colors[model], label=model_title(model))
            ax.fill_between(budgets, lo, hi, color=colors[model], alpha=0.1)
        ax.set_title(dataset_title(dataset, titles))
        ax.set_xlabel("number of configurations sampled (budget)")
        ax.set_ylabel(f"expected best {_label(metric)}")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    return fig


def metric_boxplot(df: pd.DataFrame, metric: str, titles: Titles = None) -> Figure:
    """The distribution over runs of each model's final ``metric`` (one box per model)."""
    data = _finite(final_rows(df), metric)
    datasets = dataset_order(data["dataset"].unique(), titles)
    fig, axes = _figure(len(datasets))
    for ax, dataset in zip(axes, datasets, strict=True):
        part = data[data["dataset"] == dataset]
        models = model_order(part["model"].unique())
        groups = [part.loc[part["model"] == m, metric].to_numpy(float) for m in models]
        ax.boxplot(groups)
        ax.set_xticks(range(1, len(models) + 1), [model_title(m) for m in models], rotation=45,
                      ha="right", fontsize=8)
        ax.set_title(dataset_title(dataset, titles))
        ax.set_ylabel(f"final {_label(metric)}")
    return fig
