"""reports.compare on hand-made result frames with known answers: shift found, no shift, too
few runs, failed runs, metric direction, Holm across baselines, the markdown and figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats as sps

from benchmark import data
from reports import compare as compare_module
from reports import stats
from reports.compare import format_p, per_run_scores

# Final values per run; None marks a failed run (NaN score, failed flag at the last step).
SHIFTED = {"hinge": [6.0, 6.2, 5.8, 6.1, 5.9, 6.0, 6.3, 5.7],
           "ns_gan": [7.0, 7.2, 6.8, 7.1, 6.9, 7.0, 7.3, 6.7]}
SAME = {"hinge": [6.0, 6.5, 7.0, 7.5, 6.8], "lsgan": [6.1, 6.6, 6.9, 7.4, 6.85]}

TITLES = data.titles()


def compare(*args, **kwargs):
    """:func:`reports.compare.compare` with the registered data sets' titles."""
    return compare_module.compare(*args, titles=TITLES, **kwargs)


def _frame(dataset: str, metric: str, finals: dict, configs: int = 1) -> pd.DataFrame:
    """Two evaluations (steps 100, 200) per run; at step 100 every score is 1.0 worse."""
    worse = 1.0 if metric == "fid" else -0.1
    rows = []
    for model, values in finals.items():
        for seed, final in enumerate(values):
            run_id = f"{model}_{dataset}_c{seed % configs:03d}_s{seed}"
            for step in (100, 200):
                last = step == 200
                failed = final is None and last
                value = math.nan if failed else (final if last else (final or 0.0) + worse)
                rows.append({"run_id": run_id, "model": model, "dataset": dataset,
                             "seed": seed, "config": seed % configs, "step": step,
                             "final": last, "failed": failed, metric: value})
    return pd.DataFrame(rows)


def _row(comparison, baseline, dataset="mnist"):
    t = comparison.table
    return t[(t["baseline"] == baseline) & (t["dataset"] == dataset)].iloc[0]


def test_a_known_shift_is_better_with_the_numbers_of_scipy():
    c = compare(_frame("mnist", "fid", SHIFTED), "hinge", n_resamples=2000)
    row = _row(c, "ns_gan")
    new, base = np.array(SHIFTED["hinge"]), np.array(SHIFTED["ns_gan"])
    assert row["mean_new"] == pytest.approx(new.mean())
    assert row["std_base"] == pytest.approx(base.std(ddof=1))
    assert row["diff"] == pytest.approx(new.mean() - base.mean())
    assert row["welch_p"] == pytest.approx(sps.ttest_ind(new, base, equal_var=False).pvalue)
    assert row["mwu_p"] == pytest.approx(sps.mannwhitneyu(new, base).pvalue)
    assert row["welch_p_holm"] == row["welch_p"]  # a family of one
    assert row["diff_ci_low"] < row["diff"] < row["diff_ci_high"] < 0
    assert row["cohen_d"] < 0 and row["p_better"] == 1.0  # every hinge run has a lower FID
    assert row["verdict"] == "better"
    assert c.sentences == ["Hinge GAN is better than NS GAN on MNIST (FID 6.0 vs 7.0, "
                           "p < 0.001)."]


def test_no_shift_is_no_significant_difference():
    c = compare(_frame("mnist", "fid", SAME), "hinge", n_resamples=2000)
    row = _row(c, "lsgan")
    assert row["welch_p_holm"] > 0.5 and row["verdict"] == "no significant difference"
    p = sps.ttest_ind(SAME["hinge"], SAME["lsgan"], equal_var=False).pvalue
    assert c.sentences == [f"No significant difference between Hinge GAN and LSGAN on MNIST "
                           f"(FID 6.76 vs 6.77, p = {p:.2g})."]  # one more decimal: 6.8 twice


def test_fewer_than_two_runs_on_a_side_gives_means_and_no_test():
    finals = {**SHIFTED, "wgan": [9.0], "lsgan": [None, 8.0, None]}
    c = compare(_frame("mnist", "fid", finals), "hinge", n_resamples=500)
    for baseline, n_base in (("wgan", 1), ("lsgan", 1)):
        row = _row(c, baseline)
        assert row["verdict"] == stats.NO_TEST and row["n_base"] == n_base
        assert math.isnan(row["welch_p_holm"]) and math.isnan(row["mwu_p"])
        assert math.isnan(row["p_better"]) and math.isnan(row["cohen_d"])
    assert "No test possible (n < 2) between Hinge GAN and WGAN on MNIST (FID 6.0 vs 9.0; " \
           "8 vs 1 healthy runs)." in c.sentences
    # the untestable baselines do not count in Holm's m
    assert _row(c, "ns_gan")["welch_p_holm"] == _row(c, "ns_gan")["welch_p"]


def test_failed_runs_count_in_the_failure_rate_and_not_in_the_mean():
    finals = {"hinge": SHIFTED["hinge"], "ns_gan": [7.0, None, 7.2, None, 6.8]}
    df = _frame("mnist", "fid", finals)
    # a run marked failed but with a finite last score (failed after that evaluation) too
    late = df["run_id"].str.endswith("_s4") & (df["model"] == "ns_gan") & (df["step"] == 200)
    df.loc[late, "failed"] = True
    row = _row(compare(df, "hinge", n_resamples=500), "ns_gan")
    assert (row["n_runs_base"], row["n_failed_base"], row["n_base"]) == (5, 3, 2)
    assert row["failure_rate_base"] == pytest.approx(0.6)
    assert row["mean_base"] == pytest.approx(7.1)
    assert (row["n_failed_new"], row["failure_rate_new"]) == (0, 0.0)
    sentence = compare(df, "hinge", n_resamples=500).sentences[0]
    assert sentence.endswith("failed runs 0/8 vs 3/5).")


def test_direction_fid_lower_is_better_f1_higher_is_better():
    f1 = {"hinge": [0.80, 0.82, 0.78, 0.81, 0.79], "ns_gan": [0.60, 0.62, 0.58, 0.61, 0.59],
          "lsgan": [0.90, 0.92, 0.88, 0.91, 0.89]}
    fid = {"hinge": [7.0, 7.2, 6.8, 7.1, 6.9], "ns_gan": [6.0, 6.2, 5.8, 6.1, 5.9]}
    df = pd.concat([_frame("triangles", "f1", f1), _frame("mnist", "fid", fid)])
    c = compare(df, "hinge", n_resamples=500)
    assert c.metrics == ("fid", "f1")
    assert set(zip(c.table["dataset"], c.table["metric"], strict=True)) == {
        ("mnist", "fid"), ("triangles", "f1")}  # each metric only where it is measured
    assert _row(c, "ns_gan", "mnist")["verdict"] == "worse"  # higher FID
    assert _row(c, "ns_gan", "triangles")["verdict"] == "better"  # higher F1
    assert _row(c, "lsgan", "triangles")["verdict"] == "worse"
    assert _row(c, "ns_gan", "triangles")["p_better"] == 1.0
    assert _row(c, "ns_gan", "mnist")["p_better"] == 0.0
    assert "Hinge GAN is worse than NS GAN on MNIST (FID 7.0 vs 6.0" in c.sentences[0]
    assert c.sentences[1].startswith("Hinge GAN is better than NS GAN on Triangles (F1 0.800 vs")


def test_holm_is_applied_across_the_baselines_of_a_data_set_and_metric():
    finals = {**SHIFTED, "lsgan": SAME["lsgan"], "wgan": [6.3, 6.4, 6.0, 6.6]}
    c = compare(_frame("mnist", "fid", finals), "hinge", baselines=["wgan", "lsgan", "ns_gan"],
                n_resamples=500)
    assert list(c.table["baseline"]) == ["wgan", "lsgan", "ns_gan"]
    np.testing.assert_allclose(c.table["welch_p_holm"], stats.holm(c.table["welch_p"]))
    np.testing.assert_allclose(c.table["mwu_p_holm"], stats.holm(c.table["mwu_p"]))
    assert (c.table["welch_p_holm"] >= c.table["welch_p"]).all()


def test_score_last_or_best_checkpoint():
    df = _frame("mnist", "fid", {"hinge": [6.0, 7.0]})
    df.loc[(df["step"] == 100) & (df["seed"] == 1), "fid"] = 5.0  # better before the end
    last = per_run_scores(df, "fid", "last").set_index("seed")["value"]
    best = per_run_scores(df, "fid", "best").set_index("seed")["value"]
    assert list(last) == [6.0, 7.0] and list(best) == [6.0, 5.0]
    f1 = _frame("triangles", "f1", {"hinge": [0.5]})  # higher is better: best = max
    assert per_run_scores(f1, "f1", "best")["value"].item() == 0.5
    with pytest.raises(ValueError, match="score"):
        per_run_scores(df, "fid", "median")


def test_markdown_holds_every_section():
    df = pd.concat([_frame("mnist", "fid", {**SHIFTED, "wgan": [9.0]}),
                    _frame("triangles", "f1", {"hinge": [0.8, 0.7], "ns_gan": [0.5, 0.6]})])
    c = compare(df, "hinge", score="best", n_resamples=500)
    text = c.markdown()
    for heading in ("# Hinge GAN against the baselines", "## Summary", "## MNIST",
                    "### FID (lower is better)", "## Triangles", "### F1 (higher is better)",
                    "## Method"):
        assert heading in text.splitlines(), heading
    assert all(f"- {s}" in text for s in c.sentences) and len(c.sentences) == 3
    assert "| **Hinge GAN** (new) | 8 (0) | 6.0 ± 0.2 |" in text
    assert "Welch's t-test" in text and "Holm" in text and "best checkpoint" in text
    assert "no test possible (n < 2)" in text


def test_figures_box_plots_always_budget_curves_for_sweeps():
    single = compare(_frame("mnist", "fid", SHIFTED), "hinge", n_resamples=200)
    assert list(single.figures()) == ["scores_fid"]
    sweep = compare(_frame("mnist", "fid", SHIFTED, configs=4), "hinge", n_resamples=200)
    figures = sweep.figures()
    assert list(figures) == ["scores_fid", "budget_fid"]
    assert all(isinstance(f, Figure) for f in figures.values())
    lines = figures["budget_fid"].axes[0].get_lines()
    assert [line.get_linewidth() for line in lines] == [1.2, 3.0]  # new model thick, on top


def test_unknown_models_are_errors():
    df = _frame("mnist", "fid", SHIFTED)
    with pytest.raises(ValueError, match="not in the results"):
        compare(df, "gan3")
    with pytest.raises(ValueError, match="wgan"):
        compare(df, "hinge", baselines=["wgan"])


def test_format_p():
    assert (format_p(0.0031), format_p(0.41), format_p(1e-5), format_p(math.nan)) == (
        "p = 0.0031", "p = 0.41", "p < 0.001", "–")


def test_no_baselines_on_the_data_set():
    df = pd.concat([_frame("mnist", "fid", {"hinge": [6.0, 6.1]}),
                    _frame("triangles", "f1", {"ns_gan": [0.5, 0.6]})])
    c = compare(df, "hinge", n_resamples=100)
    assert c.table.empty and c.sentences == [] and c.figures() == {}
    assert "(no baseline has a measured metric on the data sets of Hinge GAN)" in c.markdown()
