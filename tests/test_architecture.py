"""The layering rule of docs/extending.md's "Layout" section, and the registries' promise: a metric
or a data set is one definition plus one registry line, with no other file edited."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import grimp
import numpy as np
from importlinter.application.use_cases import lint_imports
from importlinter.configuration import configure
from PIL import Image

from benchmark import data
from benchmark.cli import main as cli
from benchmark.data import DatasetSpec, ImageDataset
from benchmark.runner.results import load_rows
from metrics.registry import METRICS
from tests.conftest import mean_pixel_metric

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "models", "losses", "metrics", "sweeps", "reports")
# Imported inside functions on purpose: optional extras, heavy peers of the benchmarks, and
# the one project module that exists only for an optional extra (it imports submitit).
OPTIONAL = {"tensorflow_datasets", "torch", "torchvision", "pytorch_fid", "ray", "submitit",
            "benchmark.runner.executors._requeue"}


def test_import_contracts_of_pyproject_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    configure()
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None,
                        no_logo=True)
    assert kept, "a layer contract is broken: run `lint-imports` to see which import"


def test_no_module_imports_itself_back():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            if graph.chain_exists(importer=imported, imported=importer):
                cycles.append(f"{importer} -> {imported}")
    assert not cycles, cycles


def test_no_function_level_imports_except_optional_dependencies():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import):
                        names = [a.name for a in inner.names]
                    elif isinstance(inner, ast.ImportFrom):
                        names = [inner.module or ""]
                    else:
                        continue
                    found += [f"{path.relative_to(ROOT)}: {n}" for n in names
                              if n.split(".")[0] not in OPTIONAL and n not in OPTIONAL]
    assert not found, found


# --- a toy data set and a toy metric, registered from here ---------------------------------


def _toy_load(data_dir=None, **_):
    """Bright squares on a dark ground: 256 train and 64 test images."""
    rng = np.random.default_rng(0)
    images = np.zeros((320, 28, 28, 1), np.uint8)
    for i, (r, c) in enumerate(rng.integers(0, 20, (320, 2))):
        images[i, r:r + 8, c:c + 8] = 255
    return ImageDataset("toy", images[:256], images[256:])


TOY = DatasetSpec(name="toy", title="Toy squares", image_shape=(28, 28, 1), train_steps=4,
                  eval_every=2, load=_toy_load, splits={"train": 256, "test": 64},
                  fid_reference_split=None, sources=("generated",))


MEAN_PIXEL = mean_pixel_metric("toy")  # a toy registry metric (tests/conftest.py)


def test_a_toy_metric_and_data_set_plug_in_without_editing_the_project(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(data.REGISTRY, "toy", TOY)
    monkeypatch.setitem(METRICS, "mean_pixel", MEAN_PIXEL)
    out = tmp_path / "toy"
    args = ["train", "--model", "ns_gan", "--dataset", "toy", "--seeds", "0,1",
            "--profile", "smoke", "--results-dir", str(out), "--no-progress"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "### Toy squares" in printed and "mean_pixel" in printed

    rows = load_rows(out)
    assert sorted(rows["step"]) == [2, 2, 4, 4] and rows["mean_pixel"].notna().all()
    # the smoke profile's sample grids use the 16 evaluation latents too: their mean pixel
    # is the metric's value, to the PNG's 8-bit rounding
    assert json.loads((out / "study.json").read_text())["name"] == "train_ns_gan_toy"
    for row in rows.itertuples():
        png = out / "samples" / row.run_id / f"step_{row.step:06d}.png"
        pixels = np.asarray(Image.open(png), np.float64) / 255
        grid = pixels[1:, 1:].reshape(4, 29, 4, 29)[:, :28, :, :28]  # drop the 1 px gaps
        assert abs(grid.mean() - row.mean_pixel) < 2 / 255

    assert cli.main(["report", str(out)]) == 0
    summary = (out / "report" / "summary.md").read_text()
    assert "### Toy squares" in summary and "mean_pixel" in summary
    assert "| NS GAN | 2 (0) |" in summary
