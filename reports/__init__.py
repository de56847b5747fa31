"""What the results mean: tables (``reports.tables``) and figures (``reports.plots``) of a
frame of result rows, assembled into one report by :func:`build_report`.

Nothing here reads or writes files: ``python -m benchmark report RESULTS_DIR`` loads the rows,
calls :func:`build_report` and writes what it returns (``benchmark.cli.report_files``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from metrics import scores
from reports import montage, plots, tables
from reports.tables import Titles


@dataclasses.dataclass
class Report:
    """A report's content: ``summary.md``, ``summary.csv`` and figures by file name."""

    markdown: str
    table: pd.DataFrame
    figures: dict[str, Figure]


def _plottable(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    values = pd.to_numeric(df[metric], errors="coerce") if metric in df else None
    return df.iloc[0:0] if values is None else df[np.isfinite(values)]


def figures_for(df: pd.DataFrame, metric: str) -> tuple[bool, bool]:
    """(learning curves, budget and box plots) that ``metric`` allows: curves where a run (by
    study and run id) has more than one finite evaluation, the others where a model has more
    than one run with one. The report and the curves notebook both ask this."""
    finite = _plottable(df, metric)
    if finite.empty:
        return False, False
    key = scores.run_key(finite)
    curves = bool(finite.groupby(key)["step"].nunique().max() > 1)
    runs = finite.groupby(["dataset", "model"])[key].apply(lambda g: len(g.drop_duplicates()))
    return curves, bool(runs.max() > 1)


def build_report(df: pd.DataFrame, title: str, titles: Titles = None,
                 score: str = "last",
                 samples: Sequence[tuple[str, np.ndarray]] | None = None,
                 sequences: Sequence[tuple[str, str]] | None = None) -> Report:
    """The summary tables and every figure the measured metrics allow; ``score`` chooses each
    run's value in the tables (``tables.SCORES``: its last or its best evaluation).

    Figures per measured metric: learning curves where a run has more than one evaluation,
    the budget plot where a model has more than one run, and box plots. ``samples``: the
    montage's rows (label, sample images [n, h, w, c]; :func:`reports.montage.montage_runs`
    says which run and label), drawn as ``samples.png`` after the table. ``sequences``:
    (label, text) of the sequence models' decoded samples (token ids, SeqGAN on its
    oracle), printed after the table.
    """
    table = tables.summary(df, titles=titles, score=score)
    figures: dict[str, Figure] = {}
    captions: list[tuple[str, str]] = []
    for metric in tables.summary_metrics(table):
        curves, several = figures_for(df, metric)
        if curves:
            figures[f"curves_{metric}.png"] = plots.learning_curves(df, metric, titles)
            captions.append((f"{metric} during training", f"curves_{metric}.png"))
        if several:
            figures[f"budget_{metric}.png"] = plots.budget_plot(df, metric, titles)
            captions.append((f"expected best {metric} vs number of configurations",
                             f"budget_{metric}.png"))
            figures[f"box_{metric}.png"] = plots.metric_boxplot(df, metric, titles)
            captions.append((f"final {metric} over runs", f"box_{metric}.png"))

    lines = [f"# Results of {title}", "",
             f"{scores.count_runs(df)} runs, {len(df)} evaluations. Mean ± std (ddof=1) of "
             f"{tables.score_description(score)}; failed runs are counted, not averaged.", "",
             tables.format_summary(table, titles)]
    failures = tables.format_failures(df)
    if failures:
        lines += ["## Failed runs", "", "A run fails at the first training step whose logged "
                  "values are not finite; its G is frozen there and it has no score "
                  "(docs/protocol.md §4.7).", "", failures]
    if samples:
        figures["samples.png"] = montage.sample_montage(samples)
        lines += ["## Samples", "", "Each model's first run at its last evaluation, on the "
                  "fixed evaluation latents.", "", "![samples of every model](samples.png)",
                  ""]
    if sequences:
        lines += ["## Sampled sequences", "", "Each sequence model's first run at its last "
                  "evaluation: token ids, one sequence a line.", ""]
        for label, text in sequences:
            lines += [f"{label}:", "", "```", text.rstrip("\n"), "```", ""]
    comparison = tables.compare_to_paper(df, score)
    if not comparison.empty:
        lines += ["## FID against the paper (phase 3, 50 seeds)", "",
                  f"Ours: mean ± std over runs of {tables.score_description(score)}.", "",
                  tables.format_comparison(comparison, titles)]
    if captions:
        lines += ["## Figures", ""]
        lines += [f"![{caption}]({name})" for caption, name in captions]
    return Report("\n".join(lines) + "\n", table, figures)


__all__ = ["Report", "build_report", "figures_for", "montage", "plots", "scores", "tables"]
