"""A run's score under a policy: the one function the tables, figures, ``compare``, the
notebooks and phase 3's selection call, so they agree on any folder of results.

A run is keyed by (study, run_id), never by run id alone: a folder of several studies holds the
same run id once per study (``benchmark.runner.results.load_rows`` adds the ``study``
column). Policies
(docs/protocol.md §6.6, §4.7):

- ``last``: the run's last evaluation;
- ``best``: its best evaluation not marked failed, by the column's direction (a run's finite
  checkpoints before it failed count, as in compare_gan v1's ``BestFIDPerModel``);
- ``select``: ``best`` among the evaluations whose qualifier (FID's features) is the column's
  preferred one, where any evaluation of the (data set, model) has it: phase 3's choice.

``failed`` is True where any evaluation of the run is marked failed; ``failed_step`` and
``failed_value`` say where and what stopped being finite. Consumers decide what a failed run
gives: the tables and ``compare`` count it and leave it out of means, the budget curves keep
its finite checkpoints. JAX-free.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics import columns as metric_columns

POLICIES = ("last", "best", "select")
RUN_KEY = ("study", "run_id")
FIELDS = ("dataset", "model", "config", "seed")


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown score {policy!r}; choose one of: {', '.join(POLICIES)}")


def run_key(df: pd.DataFrame) -> list[str]:
    """The columns that identify a run in ``df``: (study, run_id), or run_id for a frame of
    one study without the ``study`` column."""
    return [c for c in RUN_KEY if c in df]


def count_runs(df: pd.DataFrame) -> int:
    """How many runs ``df`` holds (by (study, run_id))."""
    return 0 if df.empty else int(df.groupby(run_key(df), sort=False).ngroups)


def _numeric(df: pd.DataFrame, metric: str) -> pd.Series:
    if metric not in df:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[metric], errors="coerce").astype(float)


def _preferred(df: pd.DataFrame, metric: str) -> pd.Series:
    """Rows usable under ``select``: those with the column's preferred qualifier where any
    row of the same (data set, model) has it, else all."""
    column = metric_columns.column(metric)
    if column is None or column.qualifier is None or column.qualifier not in df:
        return pd.Series(True, index=df.index)
    has = df[column.qualifier].astype(object).eq(column.preferred)
    pair = [c for c in ("dataset", "model") if c in df]
    any_has = has.groupby([df[c] for c in pair]).transform("any") if pair else has.any()
    return has | ~any_has.astype(bool)


def run_scores(df: pd.DataFrame, metric: str, policy: str = "last") -> pd.DataFrame:
    """One row per run of ``df``: the run key, dataset, model, config, seed, ``value`` (its
    ``metric`` under ``policy``, NaN if none), ``step`` (the evaluation it comes from),
    ``failed``, ``failed_step`` and ``failed_value``. Runs keep the order of their first row."""
    check_policy(policy)
    key = run_key(df)
    out_columns = [*key, *FIELDS, "value", "step", "failed", "failed_step", "failed_value"]
    if df.empty:
        return pd.DataFrame(columns=out_columns)
    data = df.assign(_v=_numeric(df, metric),
                     _f=df["failed"].eq(True) if "failed" in df else False,
                     _order=np.arange(len(df)))
    for column in (*FIELDS, "failed_step", "failed_value"):
        if column not in data:
            data[column] = np.nan
    data = data.sort_values([*key, "step"], kind="stable")
    grouped = data.groupby(key, sort=False)
    last = grouped.tail(1).set_index(key)
    out = last[list(FIELDS)].copy()
    out["failed"] = grouped["_f"].any()
    failed_rows = data[data["_f"]]
    for column in ("failed_step", "failed_value"):
        known = failed_rows.dropna(subset=[column]).groupby(key, sort=False)[column].last()
        out[column] = known.reindex(out.index)
    if policy == "last":
        out["value"], out["step"] = last["_v"], last["step"]
    else:
        usable = data[~data["_f"] & data["_v"].notna()]
        if policy == "select":
            usable = usable[_preferred(usable, metric)]
        ascending = not metric_columns.higher_is_better(metric)
        ranked = usable.sort_values(["_v", "step"], ascending=[ascending, True], kind="stable")
        best = ranked.groupby(key, sort=False).head(1).set_index(key)
        out["value"] = best["_v"].reindex(out.index)
        out["step"] = best["step"].reindex(out.index)
    order = grouped["_order"].min().reindex(out.index)
    out = out.assign(_order=order).sort_values("_order").drop(columns="_order")
    return out.reset_index()[out_columns]


def failure_note(row: pd.Series) -> str:
    """Where and why a failed run stopped, in words (one line of the report)."""
    step = row.get("failed_step")
    value = row.get("failed_value")
    where = f"at step {int(step)}" if pd.notna(step) else "at an unrecorded step"
    if isinstance(value, str) and value:
        what = f"{value} stopped being finite"
    elif pd.notna(step):
        what = "a training value stopped being finite (which one was not recorded)"
    else:
        what = "its parameters stopped being finite"
    return f"{where}: {what}"


__all__ = ["POLICIES", "RUN_KEY", "check_policy", "count_runs", "failure_note", "run_key",
           "run_scores"]
