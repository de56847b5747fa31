"""Execute the report notebooks on a results directory with papermill.

``python -m reports.notebooks.run RESULTS_DIR [--new-model hinge --baselines ns_gan,wgan]``
writes RESULTS_DIR/notebooks/{summary,curves,compare}.ipynb, executed, and the PNGs of
``curves`` under RESULTS_DIR/notebooks/figures/. ``compare`` runs only with a new model.

The kernel is ``python3``: jupyter_client starts it with this interpreter (a kernelspec whose
command is ``python``, as ipykernel installs, or ipykernel's built-in spec where none is
installed), so ``pip install`` of papermill and ipykernel is all it needs. Its working
directory is the folder that holds the imported ``reports`` package, so the notebooks run
this source tree even where another copy of the project is installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import reports
from reports.notebooks.build import FOLDER, NOTEBOOKS

KERNEL = "python3"
SOURCE_ROOT = Path(reports.__file__).resolve().parents[1]


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

    Raises papermill's ``PapermillExecutionError`` if a cell fails (the notebook is still
    written, with the error in it). ``timeout`` is per cell, in seconds.
    """
    import papermill

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
        path = out / f"{name}.ipynb"
        papermill.execute_notebook(
            str(FOLDER / f"{name}.ipynb"), str(path),
            parameters={"results_dir": str(results_dir), **parameters[name]},
            kernel_name=kernel_name, cwd=str(SOURCE_ROOT), progress_bar=False,
            execution_timeout=timeout,
        )
        written.append(path)
    return written


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.notebooks.run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default RESULTS_DIR/notebooks)")
    parser.add_argument("--new-model", default=None, help="run compare.ipynb for this model")
    parser.add_argument("--baselines", type=_list, default=None,
                        help="comma-separated baselines (default: every other model)")
    parser.add_argument("--metrics", type=_list, default=None)
    parser.add_argument("--score", choices=("last", "best"), default="last")
    args = parser.parse_args(argv)
    for path in run_notebooks(args.results_dir, args.out, new_model=args.new_model,
                              baselines=args.baselines, metrics=args.metrics,
                              score=args.score):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
