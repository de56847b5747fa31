"""One scoring path (metrics.scores): on a folder of two studies that share run ids, the
report, the tables, the figures, ``compare``, the notebooks' helpers and phase 3 count the same
runs and the same numbers; a failed run says at which step which value stopped; columns and
scores import without JAX. No training."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmark.runner.results import load_rows, write_rows
from metrics import columns, scores
from reports import build_report, figures_for, montage, plots, tables
from reports.compare import compare, per_run_scores
from sweeps.runs import make_run
from sweeps.studies import best_configs

# study -> model -> final FID per seed (None: failed at step 2 on d_loss)
STUDIES = {"a": {"ns_gan": [10.0, 12.0], "wgan": [8.0, 9.0]},
           "b": {"ns_gan": [11.0, None], "wgan": [7.0, 6.0]}}


def _write_folder(root):
    """Two study directories under ``root`` with the same runs (same run ids): FID at steps
    1 and 2, the step-1 FID twice the final; study b's NS GAN seed 1 fails at step 2."""
    for study, models in STUDIES.items():
        rows = []
        for model, finals in models.items():
            for seed, final in enumerate(finals):
                run = make_run(model, "mnist", seed)
                for step in (1, 2):
                    failed = final is None and step == 2
                    fid = math.nan if failed else (final or 30.0) * (2 if step == 1 else 1)
                    row = {**run.columns(), "step": step, "failed": failed,
                           "failed_step": 2 if failed else None, "fid": fid,
                           "fid_feature": "inception", "d_loss": math.inf if failed else 0.5}
                    if failed:
                        row["failed_value"] = "d_loss"
                    rows.append(row)
        write_rows(root / study / "groups" / "g0" / "rows.jsonl", rows)


def test_a_folder_of_two_studies_sharing_run_ids_loses_no_run(tmp_path):
    _write_folder(tmp_path)
    df = load_rows(tmp_path)
    assert set(df["study"]) == {"a", "b"}
    assert df["run_id"].nunique() == 4 and scores.count_runs(df) == 8

    summary = tables.summary(df).set_index("model")
    assert summary["n_runs"].to_dict() == {"ns_gan": 4, "wgan": 4}
    assert summary["n_failed"].to_dict() == {"ns_gan": 1, "wgan": 0}
    healthy = {m: [v for s in STUDIES.values() for v in s[m] if v is not None]
               for m in ("ns_gan", "wgan")}
    for model, values in healthy.items():
        assert summary.loc[model, "fid_mean"] == pytest.approx(np.mean(values))
        assert summary.loc[model, "fid_std"] == pytest.approx(np.std(values, ddof=1))

    for policy in ("last", "best"):
        per_run = per_run_scores(df, "fid", policy)
        assert len(per_run) == 8 and int(per_run["failed"].sum()) == 1
        for model, values in healthy.items():
            ok = per_run[(per_run["model"] == model) & ~per_run["failed"]]
            assert sorted(ok["value"]) == pytest.approx(sorted(values))
    budget = plots.run_scores(df, "fid")
    assert len(budget) == 8  # the failed run keeps its place, with its step-1 FID
    assert budget["fid"].isna().sum() == 0
    assert sorted(budget["fid"]) == pytest.approx(sorted(
        [v for s in STUDIES.values() for m in s.values() for v in m if v is not None] + [60.0]))

    comparison = compare(df, "ns_gan", ["wgan"], ["fid"])
    row = comparison.table.iloc[0]
    assert (row["n_runs_new"], row["n_failed_new"], row["n_runs_base"]) == (4, 1, 4)
    assert row["mean_new"] == pytest.approx(summary.loc["ns_gan", "fid_mean"])
    assert row["mean_base"] == pytest.approx(summary.loc["wgan", "fid_mean"])

    report = build_report(df, "two studies")
    assert "8 runs, 16 evaluations" in report.markdown
    assert "| NS GAN | 4 (1) |" in report.markdown
    assert figures_for(df, "fid") == (True, True)  # the curves notebook asks the same

    picks = montage.montage_runs(df)  # the report's samples: <study>/samples/<run_id>/
    assert picks["study"].tolist() == ["a", "a"]

    best = best_configs(df).set_index("model")
    assert best.loc["wgan", "fid"] == 6.0 and best.loc["wgan", "study"] == "b"
    assert best.loc["ns_gan", "fid"] == 10.0


def test_a_failed_run_says_where_and_what_stopped_being_finite(tmp_path):
    _write_folder(tmp_path)
    df = load_rows(tmp_path)
    failed = tables.failed_runs(df)
    assert len(failed) == 1
    run = failed.iloc[0]
    assert (run["study"], run["model"], run["seed"]) == ("b", "ns_gan", 1)
    assert (run["failed_step"], run["failed_value"]) == (2, "d_loss")
    text = build_report(df, "two studies").markdown
    assert "## Failed runs" in text
    assert f"run b/{run['run_id']}: failed at step 2: d_loss stopped being finite" in text
    # without the training step's record of which value: the step, and that it is unknown
    note = scores.failure_note(pd.Series({"failed_step": 5, "failed_value": None}))
    assert note.startswith("at step 5: ") and "not recorded" in note


def test_best_and_select_policies_follow_the_column():
    """best: the lowest FID of the healthy evaluations; select: among Inception features
    where the (data set, model) has any, so a lower FID-LeNet value is not chosen."""
    run = make_run("ns_gan", "mnist", 0)
    rows = pd.DataFrame([
        {**run.columns(), "step": 1, "fid": 3.0, "fid_feature": "lenet", "failed": False},
        {**run.columns(), "step": 2, "fid": 9.0, "fid_feature": "inception", "failed": False},
        {**run.columns(), "step": 3, "fid": 1.0, "fid_feature": "inception", "failed": True},
    ])
    assert scores.run_scores(rows, "fid", "last")["value"].item() == 1.0
    assert scores.run_scores(rows, "fid", "best")[["value", "step"]].values.tolist() == [
        [3.0, 1]]
    assert scores.run_scores(rows, "fid", "select")[["value", "step"]].values.tolist() == [
        [9.0, 2]]
    with pytest.raises(ValueError, match="choose one of: last, best, select"):
        scores.run_scores(rows, "fid", "mean")


def test_columns_declared_without_jax_match_the_registry():
    from metrics.registry import METRICS

    assert list(columns.DECLARED) == list(METRICS)
    for name, metric in METRICS.items():
        assert metric.columns == columns.DECLARED[name]
        # a metric's settings: a frozen dataclass whose every field has a default
        assert metric.settings.__dataclass_params__.frozen
        assert all(f.default is not dataclasses.MISSING
                   or f.default_factory is not dataclasses.MISSING
                   for f in dataclasses.fields(metric.settings)), name


def test_reports_sweeps_and_the_models_registry_work_without_jax():
    """Columns, scores, the configuration, the model registry (its recipes), the study's runs
    and search spaces, and the reports import and run with JAX, flax and optax unimportable
    (a notebook on a laptop without them); reports and sweeps never load the metric registry.
    Only a chosen ``--arch`` (a flax module) or training loads them."""
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('jax', 'jaxlib', 'flax', 'optax', 'orbax'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import math\n"
        "import pandas as pd\n"
        "import metrics.columns, metrics.scores, models, sweeps.config, sweeps.configs.preview\n"
        "import reports, reports.compare, reports.montage, reports.plots, reports.tables\n"
        "from sweeps import spaces, studies\n"
        "from sweeps.runs import make_run\n"
        "sweeps.config.resolve('paper')\n"
        "for name in models.names():\n"
        "    m = models.get(name)\n"
        "    assert m.title and m.defaults, name\n"
        "    if m.family != 'sequence':\n"
        "        assert len(spaces.sample_configs(name, 'wide', 3)) == 3, name\n"
        "study = studies.build_study('default', profile='smoke', seeds=(0, 1))\n"
        "assert len(study.runs) == 2 * 8, len(study.runs)  # the paper's eight, two seeds\n"
        "assert {r.dataset for r in study.runs} == {'triangles'}\n"
        "rows = [{**make_run(m, 'triangles', s).columns(), 'step': 10, 'final': True,\n"
        "         'failed': False, 'f1': 0.1 * (s + 1)}\n"
        "        for m in ('ns_gan', 'vae') for s in (0, 1)]\n"
        "table = reports.tables.summary(pd.DataFrame(rows))\n"
        "assert list(table['f1_mean']) == [0.15000000000000002, 0.15000000000000002], table\n"
        "assert 'NS GAN' in reports.tables.format_summary(table)\n"
        "bad = [m for m in ('metrics.registry', 'metrics.base') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_status_accepts_a_folder_of_studies_as_report_does(tmp_path, capsys):
    from benchmark.cli import main as cli
    from benchmark.runner.results import MANIFEST

    for study, tasks in (("a", {"g0": ["r0", "r1"]}), ("b", {"g0": ["r0"], "g1": ["r2"]})):
        (tmp_path / study).mkdir()
        (tmp_path / study / MANIFEST).write_text(json.dumps({"tasks": tasks}))
    assert cli.main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'a'}: 1 tasks (2 runs): 0 done, 0 running, 1 pending" in out
    assert f"{tmp_path / 'b'}: 2 tasks (2 runs): 0 done, 0 running, 2 pending" in out
