"""The report notebooks as code: ``python -m reports.notebooks.build`` rewrites the .ipynb files.

Each notebook has one papermill ``parameters`` cell (``results_dir`` and its own options),
loads the rows with ``benchmark.results.load_rows`` and calls ``reports`` for every table and
figure, so that a notebook holds no analysis of its own. Cell ids are fixed, so the files are
the same on every build (a test checks that the committed files are this module's output).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

FOLDER = Path(__file__).parent
PARAMETERS = "parameters"  # papermill's tag for the cell it overrides



def _imports(display: str, reports: str) -> str:
    return (f"from IPython.display import {display}\n\n"
            f"from benchmark.results import load_rows\n{reports}")


SUMMARY = [
    ("md", "# Summary of a study\n\nMean ± std over runs of each model's last evaluation per "
           "data set (failed runs counted, not averaged), and our FID beside the paper's "
           "headline table. The tables of `python -m benchmark report`."),
    (PARAMETERS, 'results_dir = "results/default_cpu"  # a study directory, or one of studies'),
    ("code", _imports("Markdown, display", "from reports import tables")),
    ("code", "df = load_rows(results_dir)\n"
             "print(f\"{df['run_id'].nunique()} runs, {len(df)} evaluations\")"),
    ("md", "## Mean ± std per data set"),
    ("code", "table = tables.summary(df)\ndisplay(Markdown(tables.format_summary(table)))"),
    ("code", "table"),
    ("md", "## FID against the paper (phase 3, 50 seeds)"),
    ("code", "comparison = tables.compare_to_paper(df)\n"
             "display(Markdown(tables.format_comparison(comparison)))"),
]

CURVES = [
    ("md", "# Curves of a study\n\nLearning curves, expected best score against the number "
           "of configurations (the paper's Fig. 4) and the final scores over runs, per metric, "
           "as `python -m benchmark report` draws them."),
    (PARAMETERS, 'results_dir = "results/default_cpu"\n'
                 "figures_dir = None  # where the PNGs go; None: RESULTS_DIR/notebooks/figures"),
    ("code", "from pathlib import Path\n\nimport numpy as np\nimport pandas as pd\n"
             + _imports("Image, display", "from reports import plots, tables")),
    ("code", "df = load_rows(results_dir)\n"
             'out = Path(figures_dir or Path(results_dir) / "notebooks" / "figures")\n'
             "metrics = tables.summary_metrics(tables.summary(df))\n\n\n"
             "def measured(metric):\n"
             '    return df[np.isfinite(pd.to_numeric(df[metric], errors="coerce"))]\n\n\n'
             "def show(path):\n    display(Image(filename=str(path)))\n\n\nmetrics"),
    ("md", "## Learning curves (mean ± 1 std over runs)"),
    ("code", "for metric in metrics:\n"
             '    if measured(metric).groupby("run_id")["step"].nunique().max() > 1:\n'
             '        show(plots.learning_curves(df, metric, out / f"curves_{metric}.png"))'),
    ("md", "## Expected best score against budget (models with more than one run)"),
    ("code", "several = [m for m in metrics\n"
             '           if measured(m).groupby(["dataset", "model"])["run_id"].nunique().max()'
             " > 1]\n"
             "for metric in several:\n"
             '    show(plots.budget_plot(df, metric, out / f"budget_{metric}.png"))'),
    ("md", "## Final score over runs"),
    ("code", "for metric in several:\n"
             '    show(plots.metric_boxplot(df, metric, out / f"box_{metric}.png"))'),
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
             "comparison = compare(df, new_model, baselines, metrics, score)\n"
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
    import nbformat  # the notebook extras (nbformat comes with papermill)

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
    import nbformat

    return nbformat.writes(notebook(name)) + "\n"


def write(folder: Path = FOLDER) -> list[Path]:
    """Write every notebook to ``folder``/<name>.ipynb; returns the paths."""
    paths = []
    for name in NOTEBOOKS:
        path = Path(folder) / f"{name}.ipynb"
        path.write_text(text(name))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write():
        print(written)
