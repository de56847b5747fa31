"""Report tables and figures on hand-made result frames with known answers. No training."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark import data
from benchmark.cli.report_files import write_report
from benchmark.runner.results import image_grid_png, read_image_grid, write_rows
from reports import montage, plots, tables
from sweeps.runs import make_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Final values per (dataset, model): one entry per seed; None marks a failed run.
FID = {"ns_gan": [7.0, 8.0, 12.0], "wgan": [5.0, None, 6.5]}
F1 = {"ns_gan": [0.5, 0.7, 0.9], "wgan": [0.2, 0.4, None]}


def _frame() -> pd.DataFrame:
    """Two evaluations (steps 100, 200) of 3 seeds x 2 models x {mnist, triangles}."""
    rows = []
    for dataset, table, metric in (("mnist", FID, "fid"), ("triangles", F1, "f1")):
        for model, finals in table.items():
            for seed, final in enumerate(finals):
                run = make_run(model, dataset, seed)
                failed = final is None
                for step in (100, 200):
                    last = step == 200
                    if metric == "fid":  # FID at every evaluation, getting better
                        value = (math.nan if failed else final) if last else 2 * (final or 50)
                    else:  # F1 only at the last evaluation (CPU profile)
                        value = (math.nan if failed else final) if last else math.nan
                    row = {**run.columns(), "step": step, "final": last,
                           "failed": failed and last, "d_loss": 0.1, metric: value,
                           "kid": math.nan}
                    if metric == "fid":
                        row["fid_feature"] = "inception"
                    rows.append(row)
    return pd.DataFrame(rows)


def test_final_rows_are_the_last_evaluation_of_each_run():
    df = _frame()
    final = tables.final_rows(df.sample(frac=1.0, random_state=0))
    assert len(final) == 12 and set(final["step"]) == {200} and final["final"].all()
    assert final["run_id"].is_unique


def _four_runs() -> pd.DataFrame:
    """NS GAN on MNIST, four seeds, evaluated at steps 1, 2, 3 (nan: not finite): seed 0
    healthy, its best FID (10) at step 2 and best IS (6) at step 1; seed 1 failed at step 3
    after a finite FID of 25 at step 2; seed 2 failed from the start; seed 3 healthy, best
    FID 15 and IS 4 at step 1."""
    values = {0: ([30.0, 10.0, 20.0], [6.0, 5.0, 3.0], []),
              1: ([40.0, 25.0, math.nan], [1.0, 2.0, math.nan], [3]),
              2: ([math.nan] * 3, [math.nan] * 3, [1, 2, 3]),
              3: ([15.0, 35.0, 30.0], [4.0, 2.0, 1.0], [])}
    rows = []
    for seed, (fid, inception_score, failed) in values.items():
        run = make_run("ns_gan", "mnist", seed)
        for i, step in enumerate((1, 2, 3)):
            rows.append({**run.columns(), "step": step, "final": step == 3,
                         "failed": step in failed, "fid": fid[i],
                         "inception_score": inception_score[i], "fid_feature": "inception"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # order does not matter


def test_score_last_and_best_by_hand():
    """``last``: each run's last evaluation. ``best``: each metric's best value (lowest FID,
    highest IS) over the run's healthy evaluations. Failed runs are counted and left out of
    the means under both, as in the comparison report."""
    df = _four_runs()
    last = tables.summary(df, score="last").iloc[0]
    assert (last["n_runs"], last["n_failed"], last["n_fid"]) == (4, 2, 2)
    assert last["fid_mean"] == 25.0 and last["inception_score_mean"] == 2.0  # (20+30), (3+1)
    best = tables.summary(df, score="best").iloc[0]
    assert (best["n_runs"], best["n_failed"], best["n_fid"]) == (4, 2, 2)
    assert best["fid_mean"] == pytest.approx(12.5)  # (10 + 15) / 2
    assert best["fid_std"] == pytest.approx(np.std([10.0, 15.0], ddof=1))
    assert best["inception_score_mean"] == pytest.approx(5.0)  # (6 + 4) / 2
    rows = tables.final_rows(df, "best").set_index("seed").sort_index()
    assert list(rows["fid"].iloc[:2]) == [10.0, 25.0] and math.isnan(rows.loc[2, "fid"])
    assert list(rows["failed"]) == [False, True, True, False] and set(rows["step"]) == {3}
    assert tables.summary(df).equals(tables.summary(df, score="last"))  # the default
    assert tables.compare_to_paper(df, "best")["fid_mean"].iloc[0] == pytest.approx(12.5)
    assert tables.compare_to_paper(df)["fid_mean"].iloc[0] == 25.0
    with pytest.raises(ValueError, match="unknown score 'mean'"):
        tables.summary(df, score="mean")


def test_report_says_which_score_it_used(tmp_path, capsys):
    from benchmark.cli import main as cli

    results = tmp_path / "results"
    write_rows(results / "groups" / "g0" / "rows.jsonl", _four_runs().to_dict("records"))
    assert cli.main(["report", str(results), "--score", "best"]) == 0
    out = capsys.readouterr().out
    assert "| NS GAN | 4 (2) | 12.5 ± 3.5 |" in out and "`--score best`" in out
    text = (results / "report" / "summary.md").read_text()
    comparison = text.split("## FID against the paper")[1]
    assert "best evaluation" in comparison and "| MNIST | NS GAN | 12.5 ± 3.5 |" in comparison
    assert cli.main(["report", str(results)]) == 0
    assert "| NS GAN | 4 (2) | 25.0 ± 7.1 |" in capsys.readouterr().out
    assert "each run's last evaluation (`--score last`)" in (
        results / "report" / "summary.md").read_text().split("## FID against the paper")[1]


def test_summary_matches_numpy():
    out = tables.summary(_frame())
    assert "kid_mean" not in out  # NaN everywhere: dropped
    assert list(out["model"]) == ["ns_gan", "wgan", "ns_gan", "wgan"]  # registry order
    row = out[(out["dataset"] == "mnist") & (out["model"] == "ns_gan")].iloc[0]
    assert row["fid_mean"] == pytest.approx(np.mean([7.0, 8.0, 12.0]))
    assert row["fid_std"] == pytest.approx(np.std([7.0, 8.0, 12.0], ddof=1))
    assert (row["n_runs"], row["n_failed"], row["n_fid"]) == (3, 0, 3)
    assert row["fid_feature"] == "inception"
    row = out[(out["dataset"] == "mnist") & (out["model"] == "wgan")].iloc[0]
    assert (row["n_runs"], row["n_failed"], row["n_fid"]) == (3, 1, 2)
    assert row["fid_mean"] == pytest.approx(5.75)
    assert row["fid_std"] == pytest.approx(np.std([5.0, 6.5], ddof=1))
    row = out[(out["dataset"] == "triangles") & (out["model"] == "ns_gan")].iloc[0]
    assert row["f1_mean"] == pytest.approx(0.7) and row["f1_std"] == pytest.approx(0.2)
    assert math.isnan(row["fid_mean"])
    only_f1 = tables.summary(_frame(), metrics=["f1"])
    assert tables.summary_metrics(only_f1) == ["f1"]


def test_format_summary():
    titles = data.titles()
    text = tables.format_summary(tables.summary(_frame(), titles=titles), titles)
    assert "±" in text
    assert "### MNIST" in text and "### Triangles" in text
    assert "| NS GAN | 3 (0) | 9.0 ± 2.6 |" in text
    assert "| WGAN | 3 (1) | 0.300 ± 0.141 |" in text
    assert "f1" not in text.split("### Triangles")[0]  # no empty metric columns per data set


def test_paper_table():
    paper = tables.paper_table()
    assert len(paper) == 32 and list(paper.columns) == ["model", "dataset", "mean", "std", "flag"]
    cell = paper[(paper["model"] == "wgan_gp") & (paper["dataset"] == "celeba")].iloc[0]
    assert (cell["mean"], cell["std"]) == (30.0, 1.0)
    cell = paper[(paper["model"] == "lsgan") & (paper["dataset"] == "cifar10")].iloc[0]
    assert (cell["mean"], cell["std"], cell["flag"]) == (87.1, 47.5, False)
    flagged = paper[paper["flag"]]
    assert set(zip(flagged["model"], flagged["dataset"], strict=True)) == {
        ("lsgan", "mnist"), ("lsgan", "celeba")}


def test_compare_to_paper():
    cmp = tables.compare_to_paper(_frame())
    assert set(cmp["dataset"]) == {"mnist"} and len(cmp) == 2
    ns = cmp[cmp["model"] == "ns_gan"].iloc[0]
    assert ns["paper_mean"] == 6.8 and ns["diff"] == pytest.approx(9.0 - 6.8)
    assert ns["comparable"]
    lenet = _frame().assign(fid_feature="lenet")
    assert not tables.compare_to_paper(lenet)["comparable"].any()
    assert "| MNIST | NS GAN |" in tables.format_comparison(cmp, data.titles())
    assert tables.compare_to_paper(_frame()[lambda d: d["dataset"] == "triangles"]).empty


def test_expected_best_matches_the_exact_bootstrap_expectation():
    scores = np.array([4.0, 1.0, 3.0, 2.0, 6.0])
    budgets = np.array([1, 2, 5, 20])
    mean, lo, hi = plots.expected_best(scores, budgets, higher_better=False, n_resamples=20000)
    s, n = np.sort(scores), len(scores)
    i = np.arange(1, n + 1)
    # E[min of k draws with replacement] = sum_i s_(i) [((n-i+1)/n)^k - ((n-i)/n)^k]
    exact = [np.sum(s * (((n - i + 1) / n) ** k - ((n - i) / n) ** k)) for k in budgets]
    np.testing.assert_allclose(mean, exact, atol=0.03)
    assert mean[0] == pytest.approx(scores.mean(), abs=0.03)
    assert np.all(lo <= mean) and np.all(lo <= hi) and np.all(np.diff(mean) <= 0)
    assert (lo[0], hi[0]) == (1.0, 6.0)
    up, _, _ = plots.expected_best(scores, np.array([1, 50]), higher_better=True)
    assert up[1] == pytest.approx(6.0, abs=1e-3)
    # a failed configuration costs a draw and gives nothing
    with_failure, _, _ = plots.expected_best(np.array([1.0, np.nan]), np.array([1, 2]),
                                            higher_better=False, n_resamples=20000)
    assert with_failure[0] == pytest.approx(1.0) and with_failure[1] == pytest.approx(1.0)


def test_run_scores_take_the_best_checkpoint():
    scores = plots.run_scores(_frame(), "fid")
    assert len(scores) == 6  # the mnist runs
    ns0 = scores[(scores["model"] == "ns_gan") & (scores["seed"] == 0)]["fid"].iloc[0]
    assert ns0 == 7.0  # min(14, 7)
    failed = scores[(scores["model"] == "wgan") & (scores["seed"] == 1)]["fid"].iloc[0]
    assert failed == 100.0  # its finite checkpoint before failing still counts


@pytest.mark.parametrize("plot, metric", [
    (plots.learning_curves, "fid"), (plots.budget_plot, "fid"), (plots.metric_boxplot, "fid"),
    (plots.budget_plot, "f1"), (plots.metric_boxplot, "f1"), (plots.learning_curves, "f1"),
])
def test_plots_draw_png_figures(plot, metric):
    png = plots.png(plot(_frame(), metric, data.titles()))
    assert len(png) > 1000 and png[:8] == PNG_MAGIC


def test_plots_refuse_missing_metrics():
    with pytest.raises(ValueError, match="kid"):
        plots.learning_curves(_frame(), "kid")
    with pytest.raises(ValueError, match="inception_score"):
        plots.budget_plot(_frame(), "inception_score")


def test_write_report(tmp_path):
    df = _frame()
    results = tmp_path / "results"
    for i, (_, part) in enumerate(df.groupby("dataset")):
        write_rows(results / "groups" / f"g{i}" / "rows.jsonl", part.to_dict("records"))
    paths = write_report(results, tmp_path / "report")
    names = {p.name for p in paths}
    assert {"summary.md", "summary.csv", "curves_fid.png", "budget_fid.png", "box_fid.png",
            "budget_f1.png", "box_f1.png"} <= names
    assert "curves_f1.png" not in names  # F1 at one evaluation only: no curve to draw
    text = (tmp_path / "report" / "summary.md").read_text()
    assert "±" in text and "against the paper" in text and "![" in text
    assert all(p.stat().st_size > 0 for p in paths)
    assert "samples.png" not in names  # no sample grids in this directory: no montage


def test_montage_runs_pick_each_models_first_run_at_its_last_evaluation():
    picked = montage.montage_runs(_frame(), data.titles())
    assert list(zip(picked["dataset"], picked["model"], strict=True)) == [
        ("mnist", "ns_gan"), ("mnist", "wgan"), ("triangles", "ns_gan"), ("triangles", "wgan")]
    assert set(picked["step"]) == {200} and all(picked["run_id"].str.endswith("_s0"))
    ns_triangles = picked.iloc[2]["label"]  # several data sets: named; the run's F1 beside it
    assert ns_triangles.startswith("NS GAN (") and "f1 0.500" in ns_triangles


def test_sample_montage_has_one_labelled_row_per_model(tmp_path):
    # the engine's PNG grid of 64 samples, read back, is the samples (to 1/255)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(64, 28, 28, 1)).astype(np.float32)
    back = read_image_grid(image_grid_png(images), (28, 28, 1))
    assert back.shape == images.shape and np.abs(back - images).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="1 px gaps"):
        read_image_grid(image_grid_png(images), (32, 32, 3))

    labels = [tables.model_title(m) for m in ("ns_gan", "wgan", "vae")]
    fig = montage.sample_montage([(label, back) for label in labels], per_row=10)
    assert [ax.get_ylabel() for ax in fig.axes] == labels  # one labelled row per model
    assert all(ax.get_images()[0].get_array().shape == (28, 10 * 29 - 1) for ax in fig.axes)
    assert plots.png(fig)[:8] == PNG_MAGIC
    assert montage.strip(images[:3]).shape == (28, 3 * 29 - 1, 1)
    with pytest.raises(ValueError, match="no samples"):
        montage.sample_montage([])


def test_write_report_draws_the_montage_from_the_sample_grids(tmp_path):
    df = _frame()
    df = df[df["dataset"] == "triangles"]
    results = tmp_path / "results"
    write_rows(results / "groups" / "g" / "rows.jsonl", df.to_dict("records"))
    for run_id in df["run_id"].unique():
        grid = image_grid_png(np.full((16, 28, 28, 1), 0.5, np.float32))
        (results / "samples" / run_id).mkdir(parents=True)
        (results / "samples" / run_id / "step_000200.png").write_bytes(grid)
    paths = write_report(results)
    assert paths[0] == results / "report" / "summary.md"
    assert results / "report" / "samples.png" in paths
    assert "![samples of every model](samples.png)" in paths[0].read_text()
