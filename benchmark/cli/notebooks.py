"""The report notebooks (``reports/notebooks/*.ipynb``): built from code, executed with
papermill on a results directory.

- ``python -m benchmark.cli.notebooks RESULTS_DIR [--new-model hinge --baselines ns_gan,wgan]``
  (``make notebooks RESULTS=DIR``) writes RESULTS_DIR/notebooks/{summary,curves,compare}.ipynb,
  executed, and the PNGs of ``curves`` under RESULTS_DIR/notebooks/figures/; ``compare`` runs
  only with a new model.
- ``python -m benchmark.cli.notebooks --build`` rewrites the .ipynb files from the cells below.

Each notebook has one papermill ``parameters`` cell (``results_dir`` and its own options),
loads the rows with ``benchmark.runner.results.load_rows`` and calls ``reports`` for every table and
figure, so that a notebook holds no analysis of its own. Cell ids are fixed, so the files are
the same on every build (a test checks that the committed files are this module's output).

The kernel is ``python3``: jupyter_client starts it with this interpreter (a kernelspec whose
command is ``python``, as ipykernel installs, or ipykernel's built-in spec where none is
installed). Its working directory is the folder that holds the imported ``reports`` package,
so the notebooks run this source tree even where another copy of the project is installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
import papermill
from nbformat import NotebookNode

import reports
from benchmark import data
from benchmark.errors import OneLineParser, UserError, user_input
from benchmark.io import atomic_write
from benchmark.runner.results import load_rows
from reports.compare import compare
from reports.tables import metric_names

FOLDER = Path(reports.__file__).resolve().parent / "notebooks"
SOURCE_ROOT = Path(reports.__file__).resolve().parents[1]
KERNEL = "python3"
PARAMETERS = "parameters"  # papermill's tag for the cell it overrides



def _imports(display: str, reports: str) -> str:
    return (f"from IPython.display import {display}\n\n"
            "from benchmark import data\nfrom benchmark.runner.results import load_rows\n"
            f"{reports}")


SUMMARY = [
    ("md", "# Summary of a study\n\nMean ± std over runs of each model's last evaluation per "
           "data set (failed runs counted, not averaged), and our FID beside the paper's "
           "headline table. The tables of `python -m benchmark report`."),
    (PARAMETERS, 'results_dir = "results/default_cpu"  # a study directory, or one of studies'),
    ("code", _imports("Markdown, display", "from reports import scores, tables")),
    ("code", "df = load_rows(results_dir)\ntitles = data.titles()\n"
             "print(f\"{scores.count_runs(df)} runs, {len(df)} evaluations\")"),
    ("md", "## Mean ± std per data set"),
    ("code", "table = tables.summary(df, titles=titles)\n"
             "display(Markdown(tables.format_summary(table, titles)))\n"
             "display(Markdown(tables.format_failures(df)))"),
    ("code", "table"),
    ("md", "## FID against the paper (phase 3, 50 seeds)"),
    ("code", "comparison = tables.compare_to_paper(df)\n"
             "display(Markdown(tables.format_comparison(comparison, titles)))"),
]

CURVES = [
    ("md", "# Curves of a study\n\nLearning curves, expected best score against the number "
           "of configurations (the paper's Fig. 4) and the final scores over runs, per metric, "
           "as `python -m benchmark report` draws them."),
    (PARAMETERS, 'results_dir = "results/default_cpu"\n'
                 "figures_dir = None  # where the PNGs go; None: RESULTS_DIR/notebooks/figures"),
    ("code", "from pathlib import Path\n\n"
             + _imports("Image, display", "from reports import figures_for, plots, tables")),
    ("code", "df = load_rows(results_dir)\ntitles = data.titles()\n"
             'out = Path(figures_dir or Path(results_dir) / "notebooks" / "figures")\n'
             "out.mkdir(parents=True, exist_ok=True)\n"
             "metrics = tables.summary_metrics(tables.summary(df))\n\n\n"
             "def show(figure, name):\n"
             "    (out / name).write_bytes(plots.png(figure))\n"
             "    display(Image(filename=str(out / name)))\n\n\nmetrics"),
    ("md", "## Learning curves (mean ± 1 std over runs)"),
    ("code", "for metric in metrics:\n"
             "    if figures_for(df, metric)[0]:\n"
             '        show(plots.learning_curves(df, metric, titles), f"curves_{metric}.png")'),
    ("md", "## Expected best score against budget (models with more than one run)"),
    ("code", "several = [m for m in metrics if figures_for(df, m)[1]]\n"
             "for metric in several:\n"
             '    show(plots.budget_plot(df, metric, titles), f"budget_{metric}.png")'),
    ("md", "## Final score over runs"),
    ("code", "for metric in several:\n"
             '    show(plots.metric_boxplot(df, metric, titles), f"box_{metric}.png")'),
]

COMPARE = [
    ("md", "# A new model against the baselines\n\nPer data set and metric: mean ± std, "
           "bootstrap intervals, failure rates, differences, Welch and Mann-Whitney p-values "
           "Holm-corrected across the baselines, effect sizes and one sentence per baseline. "
           "The verdict is Welch's t-test (Holm) at alpha 0.05; the method notes end the "
           "report."),
    (PARAMETERS, 'results_dir = "results/default_cpu"\n'
                 'new_model = "hinge"\n'
                 "baselines = None  # a list of models; None: every other model in the results\n"
                 "metrics = None  # a list of metrics; None: every measured metric\n"
                 'score = "last"  # each run\'s last evaluation, or "best" (best checkpoint)'),
    ("code", "import io\n\n" + _imports("Image, Markdown, display",
                                          "from reports.compare import compare")),
    ("code", "df = load_rows(results_dir)\n"
             "comparison = compare(df, new_model, baselines, metrics, score,\n"
             "                     titles=data.titles())\n"
             "display(Markdown(comparison.markdown()))"),
    ("md", "## Figures"),
    ("code", "for name, figure in comparison.figures().items():\n"
             "    buffer = io.BytesIO()\n"
             '    figure.savefig(buffer, format="png", dpi=110)\n'
             "    print(name)\n"
             "    display(Image(buffer.getvalue()))"),
    ("md", "## Every number of the comparison"),
    ("code", "comparison.table"),
]

NOTEBOOKS = {"summary": SUMMARY, "curves": CURVES, "compare": COMPARE}


def notebook(name: str) -> NotebookNode:
    """The notebook ``name`` (one of :data:`NOTEBOOKS`), unexecuted, kernel ``python3``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(NOTEBOOKS[name]):
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == PARAMETERS:
                cell.metadata["tags"] = [PARAMETERS]
        cell.id = f"{name}-{i}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def text(name: str) -> str:
    """The .ipynb file's text for ``name``."""
    return nbformat.writes(notebook(name)) + "\n"


def write(folder: Path = FOLDER) -> list[Path]:
    """Write every notebook to ``folder``/<name>.ipynb; returns the paths."""
    paths = []
    for name in NOTEBOOKS:
        path = Path(folder) / f"{name}.ipynb"
        atomic_write(path, text(name))
        paths.append(path)
    return paths


def run_notebooks(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    new_model: str | None = None,
    baselines: list[str] | None = None,
    metrics: list[str] | None = None,
    score: str = "last",
    kernel_name: str = KERNEL,
    timeout: int = 600,
) -> list[Path]:
    """Execute each notebook into ``out_dir`` (default RESULTS_DIR/notebooks); returns paths.

    Each notebook is executed into a temporary file that replaces ``<name>.ipynb`` only when
    every cell ran, so a failure never overwrites a good output: the failed notebook, with the
    error in it, is kept as ``<name>.failed.ipynb`` and papermill's
    ``PapermillExecutionError`` is raised. ``timeout`` is per cell, in seconds.
    """
    results_dir = Path(results_dir).resolve()
    out = Path(out_dir).resolve() if out_dir is not None else results_dir / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    parameters = {
        "summary": {},
        "curves": {"figures_dir": str(out / "figures")},
        "compare": {"new_model": new_model, "baselines": baselines, "metrics": metrics,
                    "score": score},
    }
    written = []
    for name in NOTEBOOKS:
        if name == "compare" and new_model is None:
            continue
        path, partial = out / f"{name}.ipynb", out / f".{name}.partial.ipynb"
        try:
            papermill.execute_notebook(
                str(FOLDER / f"{name}.ipynb"), str(partial),
                parameters={"results_dir": str(results_dir), **parameters[name]},
                kernel_name=kernel_name, cwd=str(SOURCE_ROOT), progress_bar=False,
                execution_timeout=timeout,
            )
        except BaseException:
            if partial.exists():
                os.replace(partial, failed_path(path))
            raise
        os.replace(partial, path)
        failed_path(path).unlink(missing_ok=True)
        written.append(path)
    return written


def failed_path(path: Path) -> Path:
    """Where a notebook that failed is kept (``compare.ipynb`` -> ``compare.failed.ipynb``)."""
    return path.with_suffix(".failed.ipynb")


def check_inputs(results_dir: Path, new_model: str | None, baselines: list[str] | None,
                 metrics: list[str] | None, score: str) -> None:
    """The checks the notebooks would fail on, made before any runs: the rows exist and, with
    a new model, ``reports.compare.compare`` accepts the models and metrics (a typo in
    ``--new-model`` is one line, not a traceback after two notebooks)."""
    df = load_rows(results_dir)
    unknown = [m for m in metrics or () if m not in metric_names()]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; choose among: "
                        f"{', '.join(metric_names())}")
    if new_model is not None:
        with user_input():
            compare(df, new_model, baselines, metrics, score, titles=data.titles())


def _list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give at least one name; "
                                         "separate names with commas")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m benchmark.cli.notebooks",
        description="Execute the report notebooks on a results directory (papermill), or "
        "rebuild them from code (--build).")
    parser.add_argument("results_dir", type=Path, nargs="?")
    parser.add_argument("--build", action="store_true",
                        help="rewrite reports/notebooks/*.ipynb from benchmark/cli/notebooks.py")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default RESULTS_DIR/notebooks)")
    parser.add_argument("--new-model", default=None, help="run compare.ipynb for this model")
    parser.add_argument("--baselines", type=_list, default=None,
                        help="comma-separated baselines (default: every other model)")
    parser.add_argument("--metrics", type=_list, default=None)
    parser.add_argument("--score", choices=("last", "best"), default="last")
    try:
        args = parser.parse_args(argv)
        if args.build:
            for written in write():
                print(written)
            return 0
        if args.results_dir is None or not str(args.results_dir).strip():
            raise UserError("give RESULTS_DIR (e.g. results/default_preview), or --build")
        check_inputs(args.results_dir, args.new_model, args.baselines, args.metrics,
                     args.score)
        for path in run_notebooks(args.results_dir, args.out, new_model=args.new_model,
                                  baselines=args.baselines, metrics=args.metrics,
                                  score=args.score):
            print(path)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except papermill.PapermillExecutionError as err:
        print(f"error: a notebook failed in cell {err.exec_count}: {err.ename}: "
              f"{err.evalue.splitlines()[0] if err.evalue else ''}; it is kept as "
              "<name>.failed.ipynb beside the outputs, which are untouched", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
