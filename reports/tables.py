"""Result tables: per-run final values, mean and std per (data set, model), and the paper's
headline FID table (docs/protocol.md §6.9) to compare against.

Input is a frame of result rows, one per (run, evaluation) (``benchmark.runner.results.load_rows``).
Each metric column's direction and format come from the metric registry
(:mod:`metrics.columns`, JAX-free); each run's value is :func:`metrics.scores.run_scores`
(runs keyed by study and run id); data-set titles are given by the caller (``titles``: name ->
title, in display order; ``benchmark.data.titles()`` for the registered data sets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

import models as model_registry
from metrics import columns as metric_registry
from metrics import scores

Titles = Mapping[str, str] | None

# Each run's value in the tables: its last evaluation, or its best evaluation per metric.
SCORES = ("last", "best")

# docs/protocol.md §6.9: phase 3, best wide configuration, 50 seeds, mean +- std.
# (model, dataset) -> (mean, std, some runs failed).
_PAPER_FID = {
    "mm_gan": ((9.8, 0.9), (29.6, 1.6), (72.7, 3.6), (65.6, 4.2)),
    "ns_gan": ((6.8, 0.5), (26.5, 1.6), (58.5, 1.9), (55.0, 3.3)),
    "lsgan": ((7.8, 0.6, True), (30.7, 2.2), (87.1, 47.5), (53.9, 2.8, True)),
    "wgan": ((6.7, 0.4), (21.5, 1.6), (55.2, 2.3), (41.3, 2.0)),
    "wgan_gp": ((20.3, 5.0), (24.5, 2.1), (55.8, 0.9), (30.0, 1.0)),
    "dragan": ((7.6, 0.4), (27.7, 1.2), (69.8, 2.0), (42.3, 3.0)),
    "began": ((13.1, 1.0), (22.9, 0.9), (71.4, 1.6), (38.9, 0.9)),
    "vae": ((23.8, 0.6), (58.7, 1.2), (155.7, 11.6), (85.7, 3.8)),
}
PAPER_DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba")
PAPER_METRIC = "fid"  # the column of the paper's headline table (docs/protocol.md §6.9)


def metric_names() -> tuple[str, ...]:
    """Every metric column of the registry, in registry order."""
    return tuple(metric_registry.columns())


def higher_is_better(metric: str) -> bool:
    return metric_registry.higher_is_better(metric)


def decimals(metric: str) -> int:
    column = metric_registry.column(metric)
    return column.decimals if column is not None else 3


def dataset_title(dataset: str, titles: Titles = None) -> str:
    return (titles or {}).get(dataset, dataset)


def model_order(models) -> list[str]:
    """Models in registry order (the paper's row order), unknown names after, sorted."""
    known = [m for m in model_registry.names() if m in set(models)]
    return known + sorted(set(models) - set(known))


def dataset_order(datasets, titles: Titles = None) -> list[str]:
    """Data sets in the order of ``titles`` (the registry's: MNIST, Fashion, CIFAR-10,
    CelebA, triangles), then the others, sorted."""
    known = [d for d in (titles or {}) if d in set(datasets)]
    return known + sorted(set(datasets) - set(known))


def model_title(model: str) -> str:
    """The display name of a model (its loss title), or the name itself if unknown."""
    return model_registry.get(model).title if model in model_registry.names() else model


def score_description(score: str) -> str:
    """How each run's value is chosen, in words (printed beside the tables)."""
    check_score(score)
    if score == "last":
        return "each run's last evaluation (`--score last`)"
    return "each run's best evaluation, per metric by its direction (`--score best`)"


def check_score(score: str) -> None:
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of: {', '.join(SCORES)}")


def final_rows(df: pd.DataFrame, score: str = "last") -> pd.DataFrame:
    """One row per run (by study and run id): its last evaluation.

    ``score="best"``: the same row with each registered metric column replaced by the run's
    best value (:func:`metrics.scores.run_scores`), so the values may come from different
    evaluations. ``failed`` stays the last row's (a run is marked failed from the step it
    failed at, docs/protocol.md §4.7), so a failed run is counted and left out of the means
    under either score, as in ``reports.compare.per_run_scores``.
    """
    check_score(score)
    if df.empty:
        return df
    key = scores.run_key(df)
    last = df.sort_values([*key, "step"], kind="stable").groupby(key, sort=False).tail(1)
    last = last.reset_index(drop=True)
    if score == "last":
        return last
    best = last.set_index(key, drop=False)
    for metric in metric_names():
        if metric not in df:
            continue
        per_run = scores.run_scores(df, metric, "best").set_index(key)["value"]
        best[metric] = per_run.reindex(best.index).to_numpy(float)
    return best.reset_index(drop=True)


def _present_metrics(df: pd.DataFrame, metrics) -> list[str]:
    candidates = metric_names() if metrics is None else tuple(metrics)
    return [m for m in candidates
            if m in df and pd.to_numeric(df[m], errors="coerce").notna().any()]


def summary(df: pd.DataFrame, metrics=None, titles: Titles = None,
            score: str = "last") -> pd.DataFrame:
    """Mean and sample std (ddof=1) of each run's value per (dataset, model): its last
    evaluation, or with ``score="best"`` its best per metric (:func:`final_rows`).

    Every run counts in ``n_runs``; runs marked failed are counted in ``n_failed`` and left
    out of the means (their G is frozen at the last finite step), as are NaN values
    (docs/protocol.md §4.7). ``n_<metric>`` is how many runs each mean is over.
    Metrics that are NaN everywhere are dropped; ``metrics`` defaults to those present among
    the registry's metric columns.
    """
    final = final_rows(df, score)
    names = _present_metrics(final, metrics)
    records = []
    keys = ["dataset", "model"] + (["arch"] if "arch" in final else [])
    variants = [variant(row) for row in final.to_dict("records")]
    if any(variants):  # a model's static options tell its variants apart (ALI from BiGAN)
        final = final.assign(options=variants)
        keys.append("options")
    for key, group in final.groupby(keys, sort=False, dropna=False):
        failed = group["failed"].eq(True) if "failed" in group else None
        rec = {**dict(zip(keys, key, strict=True)), "n_runs": len(group),
               "n_failed": int(failed.sum()) if failed is not None else 0}
        healthy = group if failed is None else group[~failed]
        for m in names:
            values = pd.to_numeric(healthy[m], errors="coerce").to_numpy(float)
            values = values[np.isfinite(values)]
            rec[f"{m}_mean"] = float(np.mean(values)) if len(values) else math.nan
            rec[f"{m}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
            rec[f"n_{m}"] = len(values)
        for qualifier in _qualifiers(names):
            if qualifier in group:
                found = sorted(group[qualifier].dropna().astype(str).unique())
                rec[qualifier] = "+".join(found) if found else None
        records.append(rec)
    out = pd.DataFrame(records)
    if out.empty:
        return out
    out["_d"] = out["dataset"].map(dataset_order(out["dataset"], titles).index)
    out["_m"] = out["model"].map(model_order(out["model"]).index)
    order = ["_d", "_m"]
    if "arch" in out:  # the model's own architecture first, then the others by name
        out["_a"] = [(0, "") if is_default_arch(m, a) else (1, str(a))
                     for m, a in zip(out["model"], out["arch"], strict=True)]
        order.append("_a")
    if "options" in out:  # the default options first
        out["_o"] = out["options"]
        order.append("_o")
    return out.sort_values(order, kind="stable").drop(columns=order).reset_index(drop=True)


def is_default_arch(model: str, arch) -> bool:
    """Whether ``arch`` is ``model``'s own architecture (or not recorded)."""
    if not isinstance(arch, str) or model not in model_registry.RECIPES:
        return True
    return arch == model_registry.get(model).arch


def variant(row: Mapping[str, Any]) -> str:
    """A run's static options that differ from its model's defaults (the first choice of
    each), ``"key=value"`` joined by ", "; "" at the defaults or for an unknown model."""
    model = row.get("model")
    if model not in model_registry.RECIPES:
        return ""
    return ", ".join(f"{key}={row[key]}"
                     for key, choices in model_registry.get(model).options.items()
                     if isinstance(row.get(key), str) and row[key] != choices[0])


def row_title(model: str, arch=None, options=None) -> str:
    """A table row's name: the model's title, its architecture where it is not the model's
    own (``NS GAN [dcgan]``) and its non-default options (``BiGAN [encoder=stochastic]``)."""
    title = model_title(model)
    if not is_default_arch(model, arch):
        title = f"{title} [{arch}]"
    return f"{title} [{options}]" if isinstance(options, str) and options else title


def _qualifiers(metrics) -> list[str]:
    """The qualifier columns (FID's ``fid_feature``) of ``metrics``' columns."""
    found = [metric_registry.column(m) for m in metrics]
    return list(dict.fromkeys(c.qualifier for c in found if c is not None and c.qualifier))


def failed_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The failed runs of ``df``: study, run id, data set, model, seed, where and what failed
    (:func:`metrics.scores.run_scores`)."""
    per_run = scores.run_scores(df, "step")
    return per_run[per_run["failed"]].reset_index(drop=True)


def format_failures(df: pd.DataFrame) -> str:
    """A Markdown list of the failed runs and at which step which value stopped being
    finite; empty when no run failed."""
    failed = failed_runs(df)
    lines = []
    for _, row in failed.iterrows():
        where = f"{row['study']}/" if "study" in row and pd.notna(row["study"]) else ""
        lines.append(f"- {model_title(row['model'])} on {row['dataset']}, run "
                     f"{where}{row['run_id']}: failed {scores.failure_note(row)}")
    return "\n".join(lines) + ("\n" if lines else "")


def summary_metrics(table: pd.DataFrame) -> list[str]:
    """The metrics a :func:`summary` frame holds, in registry order first."""
    found = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    known = metric_names()
    return [m for m in known if m in found] + [m for m in found if m not in known]


def format_cell(mean: float, std: float, metric: str) -> str:
    """``mean ± std`` with the metric's decimals; ``–`` when there is no value."""
    if not np.isfinite(mean):
        return "–"
    d = decimals(metric)
    return f"{mean:.{d}f} ± {std:.{d}f}" if np.isfinite(std) else f"{mean:.{d}f}"


def format_summary(table: pd.DataFrame, titles: Titles = None) -> str:
    """A Markdown text table per data set: model rows, ``mean ± std`` metric columns."""
    if table.empty:
        return "(no results)\n"
    blocks = []
    for dataset in dict.fromkeys(table["dataset"]):
        part = table[table["dataset"] == dataset]
        metrics = [m for m in summary_metrics(part) if part[f"{m}_mean"].notna().any()]
        feature = ""
        for m in metrics:
            column = metric_registry.column(m)
            q = column.qualifier if column is not None else None
            if q and q in part and part[q].notna().any():
                feature += (f" ({column.label} {q.rsplit('_', 1)[-1]}s: "
                            f"{', '.join(sorted(set(part[q].dropna())))})")
        header = ["model", "runs (failed)", *metrics]
        lines = [f"### {dataset_title(dataset, titles)}{feature}", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for _, row in part.iterrows():
            cells = [row_title(row["model"], row.get("arch"), row.get("options")),
                     f"{row['n_runs']} ({row['n_failed']})"]
            cells += [format_cell(row[f"{m}_mean"], row[f"{m}_std"], m) for m in metrics]
            lines.append("| " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def paper_table() -> pd.DataFrame:
    """The paper's headline FID table (docs/protocol.md §6.9): model, dataset, mean, std, flag.

    ``flag`` is True where the paper marks that some of the 50 runs failed.
    """
    records = []
    for model, cells in _PAPER_FID.items():
        for dataset, cell in zip(PAPER_DATASETS, cells, strict=True):
            records.append({"model": model, "dataset": dataset, "mean": cell[0],
                            "std": cell[1], "flag": len(cell) > 2 and bool(cell[2])})
    return pd.DataFrame(records)


def compare_to_paper(df: pd.DataFrame, score: str = "last") -> pd.DataFrame:
    """Our FID (mean, std over runs; each run's last or best, ``score``) next to the paper's,
    for the data sets we have.

    ``comparable`` is False where our FID used other features than Inception (FID-LeNet),
    whose scale differs from the paper's. ``diff`` is ours minus the paper's mean.
    """
    column = metric_registry.column(PAPER_METRIC)
    qualifier = column.qualifier if column is not None else None
    columns = ["dataset", "model", "n_runs", "n_failed", "fid_mean", "fid_std",
               "paper_mean", "paper_std", "paper_flag", "diff", "fid_feature", "comparable"]
    ours = summary(df, metrics=[PAPER_METRIC], score=score)
    if ours.empty or "fid_mean" not in ours or qualifier is None:
        return pd.DataFrame(columns=columns)
    ours = ours[ours["dataset"].isin(PAPER_DATASETS)]
    paper = paper_table().rename(columns={"mean": "paper_mean", "std": "paper_std",
                                          "flag": "paper_flag"})
    merged = ours.merge(paper, on=["dataset", "model"], how="inner")
    if qualifier not in merged:
        merged[qualifier] = None
    merged["diff"] = merged["fid_mean"] - merged["paper_mean"]
    merged["comparable"] = merged[qualifier].eq(column.preferred)
    return merged[columns].reset_index(drop=True)


def format_comparison(table: pd.DataFrame, titles: Titles = None) -> str:
    """The comparison as a Markdown table: ours and the paper's FID per model and data set."""
    if table.empty:
        return "(no FID on MNIST, Fashion, CIFAR-10 or CelebA to compare)\n"
    header = ["data set", "model", "ours", "paper", "ours - paper", "runs (failed)", "features"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in table.iterrows():
        paper = format_cell(r["paper_mean"], r["paper_std"], "fid") + (" *" if r["paper_flag"]
                                                                        else "")
        diff = f"{r['diff']:+.1f}" if np.isfinite(r["diff"]) else "–"
        feature = str(r["fid_feature"]) + ("" if r["comparable"] else " (not comparable)")
        lines.append("| " + " | ".join([
            dataset_title(r["dataset"], titles), model_title(r["model"]),
            format_cell(r["fid_mean"], r["fid_std"], "fid"), paper, diff,
            f"{r['n_runs']} ({r['n_failed']})", feature]) + " |")
    return "\n".join(lines) + "\n"
