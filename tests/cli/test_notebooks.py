"""The report notebooks, executed with papermill on a small synthetic results directory."""

from __future__ import annotations

import math

import pytest

from benchmark import data
from benchmark.cli import notebooks as build
from benchmark.cli.notebooks import run_notebooks
from benchmark.runner.results import load_rows, write_rows
from reports import tables
from reports.compare import compare

nbformat = pytest.importorskip("nbformat")  # the notebook extras: papermill, ipykernel
pytest.importorskip("papermill")
pytest.importorskip("ipykernel")

FID = {"ns_gan": [7.0, 8.0, 9.0], "hinge": [5.0, 5.5, 6.0]}
F1 = {"ns_gan": [0.5, 0.6, 0.7], "hinge": [0.8, 0.8, 0.9]}


def _rows() -> list[dict]:
    """Two models x 3 runs x 2 evaluations on mnist (FID) and triangles (P/R/F1)."""
    rows = []
    for dataset, finals in (("mnist", FID), ("triangles", F1)):
        for model, values in finals.items():
            for seed, final in enumerate(values):
                for step in (100, 200):
                    last = step == 200
                    row = {"run_id": f"{model}_{dataset}_c000_s{seed}", "model": model,
                           "dataset": dataset, "seed": seed, "config": 0, "step": step,
                           "final": last, "failed": False, "d_loss": 0.5}
                    if dataset == "mnist":
                        row.update(fid=final if last else final + 2.0, kid=math.nan,
                                   inception_score=math.nan, fid_feature="lenet")
                    else:
                        value = final if last else final - 0.2
                        row.update(precision=value, recall=value, f1=value)
                    rows.append(row)
    return rows


def _output_text(path) -> str:
    """Every text an executed notebook shows: streams, markdown, plain text and HTML."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get(k, "") for k in ("text/markdown", "text/plain", "text/html")]
    return "\n".join(parts)


@pytest.mark.parametrize("name", list(build.NOTEBOOKS))
def test_committed_notebooks_are_the_generator_output(name):
    assert (build.FOLDER / f"{name}.ipynb").read_text() == build.text(name), (
        "run `python -m benchmark.cli.notebooks --build`")


def test_notebooks_execute_on_a_results_directory(tmp_path):
    results = tmp_path / "results"
    write_rows(results / "groups" / "g" / "rows.jsonl", _rows())
    paths = run_notebooks(results, new_model="hinge", baselines=["ns_gan"], timeout=300)
    out = results / "notebooks"
    assert paths == [out / "summary.ipynb", out / "curves.ipynb", out / "compare.ipynb"]

    df = load_rows(results)
    summary = _output_text(out / "summary.ipynb")
    titles = data.titles()
    assert tables.format_summary(tables.summary(df, titles=titles), titles).strip() in summary
    assert "| NS GAN | 3 (0) | 8.0 ± 1.0 |" in summary
    assert "| MNIST | NS GAN | 8.0 ± 1.0 | 6.8 ± 0.5 | +1.2 | 3 (0) | lenet (not comparable) |" \
        in summary

    curves = nbformat.read(out / "curves.ipynb", as_version=4)
    images = [o for c in curves.cells for o in c.get("outputs", []) if "image/png" in
              o.get("data", {})]
    _output_text(out / "curves.ipynb")
    # learning curves, budget and box plots of fid, precision, recall, f1
    assert len(images) == 12
    assert {p.name for p in (out / "figures").iterdir()} == {
        f"{kind}_{m}.png" for kind in ("curves", "budget", "box")
        for m in ("fid", "precision", "recall", "f1")}

    comparison = compare(df, "hinge", ["ns_gan"], titles=data.titles())
    text = _output_text(out / "compare.ipynb")
    assert "## Summary" in text and "## Method" in text
    assert all(s in text for s in comparison.sentences) and len(comparison.sentences) == 4
    assert "NS GAN on MNIST (FID 5.5 vs 8.0, p = " in text
    figures = [o["text"] for c in nbformat.read(out / "compare.ipynb", as_version=4).cells
               for o in c.get("outputs", []) if o.get("name") == "stdout"]
    assert "".join(figures).split() == [f"scores_{m}" for m in ("fid", "precision", "recall",
                                                                 "f1")]


def test_a_typo_in_the_new_model_is_one_line_before_any_notebook_runs(tmp_path, capsys):
    results = tmp_path / "results"
    write_rows(results / "groups" / "g" / "rows.jsonl", _rows())
    good = results / "notebooks" / "compare.ipynb"
    good.parent.mkdir()
    good.write_text("a good notebook")
    assert build.main([str(results), "--new-model", "hingee"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model 'hingee' is not in the results") and err.count("\n") == 1
    assert sorted(p.name for p in good.parent.iterdir()) == ["compare.ipynb"]
    assert good.read_text() == "a good notebook"
    assert build.main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: no results under")
    assert build.main([str(results), "--new-model", "hinge", "--metrics", "f2"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown metric 'f2'; choose among")


@pytest.mark.slow
def test_a_failing_notebook_never_overwrites_a_good_output(tmp_path, monkeypatch):
    """Executed into a temporary file: the failed run is kept as compare.failed.ipynb."""
    results = tmp_path / "results"
    write_rows(results / "groups" / "g" / "rows.jsonl", _rows())
    good = results / "notebooks" / "compare.ipynb"
    good.parent.mkdir()
    good.write_text("a good notebook")
    monkeypatch.setattr(build, "NOTEBOOKS", {"compare": build.COMPARE})
    with pytest.raises(pytest.importorskip("papermill").PapermillExecutionError):
        run_notebooks(results, new_model="hingee", timeout=300)
    assert good.read_text() == "a good notebook"
    assert sorted(p.name for p in good.parent.iterdir()) == ["compare.failed.ipynb",
                                                            "compare.ipynb"]
    failed = nbformat.read(good.parent / "compare.failed.ipynb", as_version=4)
    errors = [o for c in failed.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and "hingee" in errors[0]["evalue"]
