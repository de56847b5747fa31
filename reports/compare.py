"""A new model against baseline models, from one results frame.

Answers "is my new loss better than the baselines?" per data set and metric: each model's
mean ± std over runs with a 95% bootstrap interval and failure rate, the difference to each
baseline with its interval, Welch's t and Mann-Whitney U p-values Holm-corrected across the
baselines, effect sizes, one plain sentence per baseline, the budget curve of a sweep (the
paper's Fig. 4) and the per-run scores as box and strip plots.

The verdict is Welch's t-test, two-sided, Holm-corrected across the baselines of one data set
and metric, at ``alpha`` (0.05). Works on the frame of ``benchmark.runner.results.load_rows``;
returns content (a DataFrame, strings, matplotlib Figures) and writes nothing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from metrics import columns as metric_columns
from metrics import scores as run_score
from reports import stats
from reports.plots import expected_best
from reports.plots import run_scores as best_checkpoint_scores
from reports.tables import (
    Titles,
    dataset_order,
    dataset_title,
    decimals,
    format_cell,
    higher_is_better,
    metric_names,
    model_order,
    model_title,
)

ALPHA = 0.05
SCORES = ("last", "best")
NEW_COLOR = "black"


def metric_title(metric: str) -> str:
    """The column's title in sentences (``Column.title``: "FID", "F1"), else its name."""
    column = metric_columns.column(metric)
    return column.label if column is not None else metric


def per_run_scores(df: pd.DataFrame, metric: str, score: str = "last") -> pd.DataFrame:
    """One row per run (by study and run id): dataset, model, run_id, config, seed, ``value``
    and ``failed`` (and ``study`` where the rows have it).

    ``score="last"``: the run's last evaluation; ``"best"``: its best evaluation among the
    healthy ones (lowest FID, highest F1, ...): :func:`metrics.scores.run_scores`. ``failed``
    is True where any evaluation of the run is marked failed or the value is NaN: such a run
    counts in the failure rate and in no mean or test, even if a checkpoint before it
    diverged was good (unlike ``reports.plots.run_scores``, the budget curves' score, which
    keeps that checkpoint).
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, not {score!r}")
    out = run_score.run_scores(df, metric, score)
    out["value"] = out["value"].astype(float)
    out["failed"] = out["failed"].astype(bool) | ~np.isfinite(out["value"].to_numpy(float))
    study = ["study"] if "study" in out else []
    return out[["dataset", "model", *study, "run_id", "config", "seed", "value",
                "failed"]].reset_index(drop=True)


def _measured(df: pd.DataFrame, metric: str) -> bool:
    return metric in df and bool(np.isfinite(pd.to_numeric(df[metric], errors="coerce")).any())


def _row(dataset: str, metric: str, new_model: str, baseline: str, new: stats.Sample,
         base: stats.Sample, n_resamples: int, seed: int) -> dict:
    welch = stats.welch_t(new.values, base.values)
    mwu = stats.mann_whitney_u(new.values, base.values)
    lo, hi = stats.bootstrap_diff_ci(new.values, base.values, n_resamples=n_resamples,
                                     seed=seed)
    # effect sizes only where a test is possible: one run against one run says nothing
    cl = math.nan if welch.reason == stats.NO_TEST else stats.common_language(new.values,
                                                                              base.values)
    row = {"dataset": dataset, "metric": metric, "higher_is_better": higher_is_better(metric),
           "new_model": new_model, "baseline": baseline}
    for side, s in (("new", new), ("base", base)):
        ci = stats.bootstrap_mean_ci(s.values, n_resamples=n_resamples, seed=seed)
        row.update({f"n_runs_{side}": s.n_runs, f"n_failed_{side}": s.n_failed,
                    f"failure_rate_{side}": s.failure_rate, f"n_{side}": s.n,
                    f"mean_{side}": s.mean, f"std_{side}": s.std,
                    f"ci_low_{side}": ci[0], f"ci_high_{side}": ci[1]})
    row.update({"diff": row["mean_new"] - row["mean_base"], "diff_ci_low": lo,
                "diff_ci_high": hi, "welch_t": welch.statistic, "welch_p": welch.pvalue,
                "mwu_u": mwu.statistic, "mwu_p": mwu.pvalue,
                "cohen_d": stats.cohens_d(new.values, base.values),
                # P(a new run scores better than a baseline run), ties half
                "p_better": cl if higher_is_better(metric) else 1.0 - cl,
                "cliffs_delta": 2.0 * cl - 1.0, "reason": welch.reason})
    return row


def _verdict(row: pd.Series, alpha: float) -> str:
    if row["reason"] == stats.NO_TEST:
        return stats.NO_TEST
    if not row["welch_p_holm"] < alpha:
        return "no significant difference"
    new_higher = row["diff"] > 0
    return "better" if new_higher == row["higher_is_better"] else "worse"


def _value(x: float, metric: str, places: int | None = None) -> str:
    places = decimals(metric) if places is None else places
    return f"{x:.{places}f}" if np.isfinite(x) else "–"


def format_p(p: float) -> str:
    """``p = 0.003``, ``p = 0.41``, ``p < 0.001``; ``–`` for no test."""
    if not np.isfinite(p):
        return "–"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p >= 0.1 else f"p = {p:.3g}"


def sentence(row: pd.Series, titles: Titles = None) -> str:
    """One plain sentence on a (data set, metric, baseline) row of :attr:`Comparison.table`."""
    new, base = model_title(row["new_model"]), model_title(row["baseline"])
    where = dataset_title(row["dataset"], titles)
    metric = row["metric"]
    places = decimals(metric)
    # enough decimals that two different means do not print alike
    while (places < decimals(metric) + 3 and np.isfinite(row["diff"]) and row["diff"]
           and _value(row["mean_new"], metric, places) == _value(row["mean_base"], metric,
                                                                   places)):
        places += 1
    values = (f"{metric_title(metric)} {_value(row['mean_new'], metric, places)} vs "
              f"{_value(row['mean_base'], metric, places)}")
    failures = ""
    if row["n_failed_new"] or row["n_failed_base"]:
        failures = (f"; failed runs {row['n_failed_new']}/{row['n_runs_new']} vs "
                    f"{row['n_failed_base']}/{row['n_runs_base']}")
    verdict = row["verdict"]
    if verdict == stats.NO_TEST:
        return (f"No test possible (n < 2) between {new} and {base} on {where} ({values}; "
                f"{row['n_new']} vs {row['n_base']} healthy runs{failures}).")
    detail = f"({values}, {format_p(row['welch_p_holm'])}{failures})"
    if verdict == "no significant difference":
        return f"No significant difference between {new} and {base} on {where} {detail}."
    return f"{new} is {verdict} than {base} on {where} {detail}."


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The comparison of ``new_model`` with ``baselines``; see :func:`compare`.

    ``table``: one row per (dataset, metric, baseline). ``scores``: one row per (run,
    metric) with the per-run score the statistics use. ``rows``: the input rows of the
    compared models (for the budget curves).
    """

    new_model: str
    baselines: tuple[str, ...]
    metrics: tuple[str, ...]
    score: str
    alpha: float
    n_resamples: int
    table: pd.DataFrame
    scores: pd.DataFrame
    rows: pd.DataFrame
    sentences: list[str]
    titles: Titles = None

    def markdown(self) -> str:
        """Summary sentences, a table per data set and metric, and the method notes."""
        title = model_title(self.new_model)
        lines = [f"# {title} against the baselines", "", "## Summary", ""]
        lines += [f"- {s}" for s in self.sentences] or [
            f"(no baseline has a measured metric on the data sets of {title})"]
        for dataset in dict.fromkeys(self.table["dataset"]):
            lines += ["", f"## {dataset_title(dataset, self.titles)}"]
            part = self.table[self.table["dataset"] == dataset]
            for metric in dict.fromkeys(part["metric"]):
                lines += ["", _metric_table(part[part["metric"] == metric], metric)]
        lines += ["", "## Method", ""] + [f"- {note}" for note in self.method_notes()]
        return "\n".join(lines) + "\n"

    def method_notes(self) -> list[str]:
        per_run = ("its last evaluation" if self.score == "last" else
                   "its best evaluation (best checkpoint)")
        return [
            f"Per-run score: {per_run}. A run that failed (marked failed at any evaluation, "
            "or NaN score) counts in runs (failed) and the failure rate and in no mean, "
            "interval or test.",
            "mean ± std: over the healthy runs, std with ddof = 1.",
            f"95% CI: percentile bootstrap of the mean, {self.n_resamples:,} resamples, "
            "seeded; the difference (new − baseline) resamples each model's runs on its own. "
            "It is too narrow for few runs (for normal data about 75% coverage at 3 runs, "
            "90% at 10, 94.5% at 30).",
            f"Verdict: Welch's t-test (unequal variances), two-sided, Holm-corrected across "
            f"the baselines of a data set and metric, significant below alpha = {self.alpha}. "
            "Mann-Whitney U (two-sided, Holm-corrected the same way) is shown as a check that "
            "does not assume normal scores; data sets and metrics are separate questions "
            "and are not corrected for each other.",
            "Effect sizes: Cohen's d of new − baseline (pooled sd); P(new better) = the "
            "probability that a random run of the new model scores better than a random run "
            "of the baseline, ties counting half (U / (n1 n2), Cliff's delta = 2P − 1).",
            "Fewer than two healthy runs on a side: means only, no test possible (n < 2).",
            "Budget curves (sweeps): expected best score of k configurations drawn with "
            "replacement (the paper's Fig. 4), each run scored by its best checkpoint before "
            "any failure, as reports.plots.budget_plot; the new model is the thick line.",
        ]

    def figures(self) -> dict[str, Figure]:
        """``scores_<metric>`` (box and strip plots of the per-run scores) for every metric
        and ``budget_<metric>`` where a compared model has more than one configuration."""
        out = {}
        for metric in self.metrics:
            if (self.table["metric"] == metric).any():
                out[f"scores_{metric}"] = self._scores_figure(metric)
                if self._is_sweep(metric):
                    out[f"budget_{metric}"] = self._budget_figure(metric)
        return out

    def _models(self) -> list[str]:
        return [self.new_model, *self.baselines]

    def _colors(self) -> dict[str, object]:
        cmap = colormaps["tab10"]
        colors = {m: cmap(i % 10) for i, m in enumerate(self.baselines)}
        return {self.new_model: NEW_COLOR, **colors}

    def _datasets(self, metric: str) -> list[str]:
        return list(dict.fromkeys(self.table.loc[self.table["metric"] == metric, "dataset"]))

    def _is_sweep(self, metric: str) -> bool:
        rows = self.rows[self.rows["dataset"].isin(self._datasets(metric))]
        return "config" in rows and bool((rows.groupby(["dataset", "model"])["config"]
                                          .nunique() > 1).any())

    def _scores_figure(self, metric: str) -> Figure:
        datasets = self._datasets(metric)
        fig, axes = _panels(len(datasets))
        colors = self._colors()
        rng = np.random.default_rng(0)
        data = self.scores[self.scores["metric"] == metric]
        for ax, dataset in zip(axes, datasets, strict=True):
            part = data[data["dataset"] == dataset]
            models = [m for m in self._models() if (part["model"] == m).any()]
            labels = []
            for i, model in enumerate(models):
                runs = part[part["model"] == model]
                values = runs.loc[~runs["failed"], "value"].to_numpy(float)
                if len(values):
                    ax.boxplot([values], positions=[i], widths=0.5, showfliers=False)
                    jitter = rng.uniform(-0.12, 0.12, len(values))
                    ax.scatter(i + jitter, values, s=14, color=colors[model], zorder=3)
                labels.append(f"{model_title(model)}\n({int(runs['failed'].sum())}/"
                              f"{len(runs)} failed)")
            ax.set_xticks(range(len(models)), labels, rotation=45, ha="right", fontsize=7)
            ax.set_title(dataset_title(dataset, self.titles))
            ax.set_ylabel(f"per-run {metric_title(metric)} ({self.score}; "
                          f"{'higher' if higher_is_better(metric) else 'lower'} is better)")
        return fig

    def _budget_figure(self, metric: str) -> Figure:
        datasets = self._datasets(metric)
        fig, axes = _panels(len(datasets))
        colors = self._colors()
        higher = higher_is_better(metric)
        scores = best_checkpoint_scores(self.rows, metric)
        for ax, dataset in zip(axes, datasets, strict=True):
            part = scores[scores["dataset"] == dataset]
            for model in [*self.baselines, self.new_model]:  # new model drawn last, on top
                values = part.loc[part["model"] == model, metric].to_numpy(float)
                if not np.isfinite(values).any():
                    continue
                budgets = np.arange(1, len(values) + 1)
                mean, lo, hi = expected_best(values, budgets, higher_better=higher)
                new = model == self.new_model
                ax.plot(budgets, mean, color=colors[model], lw=3.0 if new else 1.2,
                        marker="o" if len(budgets) == 1 else None,
                        label=model_title(model) + (" (new)" if new else ""))
                ax.fill_between(budgets, lo, hi, color=colors[model], alpha=0.2 if new else 0.07)
            ax.set_xscale("log")
            most = int(part["model"].value_counts().max()) if len(part) else 1
            ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500) if t <= most]
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_title(dataset_title(dataset, self.titles))
            ax.set_xlabel("number of configurations sampled (budget)")
            ax.set_ylabel(f"expected best {metric_title(metric)}")
            ax.legend(fontsize=7)
        return fig


def _panels(n: int) -> tuple[Figure, list]:
    cols = min(max(n, 1), 3)
    rows = math.ceil(max(n, 1) / cols)
    fig = Figure(figsize=(5.0 * cols, 3.8 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(n)]


def _metric_table(part: pd.DataFrame, metric: str) -> str:
    direction = "higher" if higher_is_better(metric) else "lower"
    first = part.iloc[0]
    header = ["model", "runs (failed)", "mean ± std", "95% CI", "new − baseline [95% CI]",
              "Welch p (Holm)", "Mann-Whitney p (Holm)", "Cohen's d", "P(new better)",
              "verdict"]

    def ci(lo, hi):
        return "–" if not np.isfinite(lo) else f"[{_value(lo, metric)}, {_value(hi, metric)}]"

    def pair(p, q):
        return "–" if not np.isfinite(p) else f"{p:.3g} ({q:.3g})"

    def num(x):
        return "–" if not np.isfinite(x) else f"{x:.2f}"

    lines = [f"### {metric_title(metric)} ({direction} is better)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    new_cells = [f"**{model_title(first['new_model'])}** (new)",
                 f"{first['n_runs_new']} ({first['n_failed_new']})",
                 format_cell(first["mean_new"], first["std_new"], metric),
                 ci(first["ci_low_new"], first["ci_high_new"])] + [""] * 6
    lines.append("| " + " | ".join(new_cells) + " |")
    for _, r in part.iterrows():
        diff = "–" if not np.isfinite(r["diff"]) else f"{r['diff']:+.{decimals(metric)}f}"
        if np.isfinite(r["diff_ci_low"]):
            diff += " " + ci(r["diff_ci_low"], r["diff_ci_high"])
        cells = [model_title(r["baseline"]), f"{r['n_runs_base']} ({r['n_failed_base']})",
                 format_cell(r["mean_base"], r["std_base"], metric),
                 ci(r["ci_low_base"], r["ci_high_base"]), diff,
                 pair(r["welch_p"], r["welch_p_holm"]), pair(r["mwu_p"], r["mwu_p_holm"]),
                 num(r["cohen_d"]), num(r["p_better"]), r["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare(
    df: pd.DataFrame,
    new_model: str,
    baselines: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    score: str = "last",
    *,
    alpha: float = ALPHA,
    n_resamples: int = stats.BOOTSTRAP_RESAMPLES,
    seed: int = stats.BOOTSTRAP_SEED,
    titles: Titles = None,
) -> Comparison:
    """Compare ``new_model`` with each of ``baselines`` on every data set it was run on.

    ``baselines`` defaults to every other model in ``df``; ``metrics`` to those of
    the registry's metric columns measured in ``df``; a metric is compared on the data sets where
    it has a finite value. ``score``: "last" (each run's last evaluation) or "best" (its best
    checkpoint). The verdict is Welch's t-test, Holm-corrected across the baselines, at
    ``alpha``. ``titles`` names the data sets (``benchmark.data.titles()``). Raises
    ValueError for a model that is not in ``df``.
    """
    models = set(df["model"]) if "model" in df else set()
    if new_model not in models:
        raise ValueError(f"model {new_model!r} is not in the results; they hold: "
                         f"{', '.join(model_order(models)) or 'nothing'}")
    if baselines is None:
        baselines = [m for m in model_order(models) if m != new_model]
    baselines = tuple(dict.fromkeys(m for m in baselines if m != new_model))
    missing = [m for m in baselines if m not in models]
    if missing:
        raise ValueError(f"baseline(s) {', '.join(missing)} not in the results")
    metrics = tuple(m for m in (metric_names() if metrics is None else metrics)
                    if _measured(df, m))
    rows = df[df["model"].isin({new_model, *baselines})]
    datasets = dataset_order(rows.loc[rows["model"] == new_model, "dataset"].unique(), titles)

    records, score_frames = [], []
    for dataset in datasets:
        here = rows[rows["dataset"] == dataset]
        for metric in metrics:
            if not _measured(here, metric):
                continue
            per_run = per_run_scores(here, metric, score)
            score_frames.append(per_run.assign(metric=metric))
            by_model = {m: stats.sample(g["value"], g["failed"])
                        for m, g in per_run.groupby("model")}
            family = [_row(dataset, metric, new_model, b, by_model[new_model], by_model[b],
                           n_resamples, seed) for b in baselines if b in by_model]
            for key in ("welch_p", "mwu_p"):
                for rec, p in zip(family, stats.holm([r[key] for r in family]), strict=True):
                    rec[f"{key}_holm"] = p
            records += family
    table = pd.DataFrame(records)
    if table.empty:
        table = pd.DataFrame(columns=["dataset", "metric", "baseline", "verdict"])
    else:
        table["verdict"] = table.apply(_verdict, axis=1, alpha=alpha)
    scores = (pd.concat(score_frames, ignore_index=True) if score_frames else
              pd.DataFrame(columns=["dataset", "model", "run_id", "value", "failed", "metric"]))
    sentences = [sentence(r, titles) for _, r in table.iterrows()] if records else []
    return Comparison(new_model, baselines, metrics, score, alpha, n_resamples, table,
                      scores, rows, sentences, titles)
