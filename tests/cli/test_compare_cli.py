"""``python -m benchmark compare`` (a new loss against baselines, same protocol) and the
hyperparameter flags derived from each loss's HParams (docs/extending.md, "Add your loss").

The baselines are NS GAN, seeds 0 and 1, trained once for the module on the smoke profile;
one cheap registered metric (the mean pixel of 16 samples on the fixed evaluation latents)
stands in for P/R/F1, which test_precision_recall covers, so that each comparison costs only
the new model's 4 steps. The cache root (triangles, compiled programs) is one temporary
folder for the module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from benchmark.cli import compare as compare_cmd
from benchmark.cli import main as cli
from benchmark.errors import UserError
from benchmark.runner import engine
from benchmark.runner.results import load_rows
from losses.base import Objective
from metrics.registry import METRICS
from models import registry as model_registry
from models.hparams import HParam, Uniform
from models.registry import Model
from sweeps.config import resolve
from sweeps.studies import build_study
from tests.conftest import mean_pixel_metric

MEAN_PIXEL = mean_pixel_metric("triangles")  # a toy registry metric (tests/conftest.py)
SMOKE = ["--profile", "smoke", "--no-progress"]


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """A results directory with NS GAN, seeds 0 and 1, smoke profile (trained once)."""
    root = tmp_path_factory.mktemp("compare")
    registered = dict(METRICS)  # restored as it was, in its order (the tables follow it)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_BENCHMARK_CACHE", str(root / "cache"))
        METRICS.clear()
        METRICS["mean_pixel"] = MEAN_PIXEL
        try:
            base = root / "base"
            assert cli.main(["train", "--model", "ns_gan", "--seeds", "0,1", "--results-dir",
                             str(base), *SMOKE]) == 0
            yield base
        finally:
            METRICS.clear()
            METRICS.update(registered)


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def trained(monkeypatch):
    """Records (model, seed) of every run that the engine actually trains."""
    seen: list[tuple[str, int]] = []
    real = engine.Trainer.advance

    def advance(self, states, hps, images, scale, start, stop, on_segment=None, labels=None):
        seen.append((self.structure.model, start, stop))
        return real(self, states, hps, images, scale, start, stop, on_segment)

    monkeypatch.setattr(engine.Trainer, "advance", advance)
    tasks: list[tuple[str, tuple[int, ...]]] = []
    real_task = engine.train_task

    def train_task(task, *args, **kwargs):
        tasks.append((task.runs[0].model, tuple(r.seed for r in task.runs)))
        return real_task(task, *args, **kwargs)

    monkeypatch.setattr(engine, "train_task", train_task)
    return {"advance": seen, "tasks": tasks}


def test_compare_reuses_the_baselines_and_writes_every_section(
        baselines, tmp_path, capsys, trained):
    before = _files(baselines)
    out = tmp_path / "cmp"
    args = ["compare", "--model", "hinge", "--baselines", str(baselines), "--seeds", "0,1",
            "--results-dir", str(out), *SMOKE]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    # only the new model was trained; the baselines' files are untouched
    assert {g[0] for g in trained["tasks"]} == {"hinge"} and trained["advance"]
    assert {a[0] for a in trained["advance"]} == {"hinge"}
    assert _files(baselines) == before
    rows = load_rows(out)
    assert set(rows["model"]) == {"hinge"} and set(rows["seed"]) == {0, 1}
    assert json.loads((out / "study.json").read_text())["name"] == "compare_hinge"

    assert f"comparing hinge with ns_gan (reused from {baselines})" in printed
    assert "summary:" in printed and "NS GAN on Triangles" in printed
    report = out / "comparison" / "comparison.md"
    text = report.read_text()
    for section in ("# Hinge GAN against the baselines", "## Summary", "## Triangles",
                    "### mean_pixel (higher is better)", "## Method", "## Protocol"):
        assert section in text, section
    summary = text.split("## Summary")[1].split("##")[0]
    assert summary.count("\n- ") == 1 and "NS GAN on Triangles" in summary
    assert "| **Hinge GAN** (new) | 2 (0) |" in text and "| NS GAN | 2 (0) |" in text
    assert f"from `{baselines}` (reused, not retrained)" in text
    assert "configurations 0 by index" in text and "seeds 0,1" in text
    png = out / "comparison" / "scores_mean_pixel.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = (out / "comparison" / "comparison.csv").read_text()
    assert "welch_p_holm" in table and "ns_gan" in table
    assert f"wrote {report}" in printed

    # rerun: resumes, trains nothing, same report
    trained["advance"].clear()
    assert cli.main(args) == 0
    assert trained["advance"] == [] and report.read_text() == text
    assert _files(baselines) == before


def test_fewer_than_two_runs_on_a_side_gives_means_and_no_test(
        baselines, tmp_path, capsys, trained):
    out = tmp_path / "one"
    assert cli.main(["compare", "--model", "hinge", "--baselines", str(baselines), "--seeds",
                     "0", "--results-dir", str(out), *SMOKE]) == 0
    printed = capsys.readouterr().out
    assert trained["tasks"] == [("hinge", (0,))]
    # NS GAN's seed 1 is not part of this protocol: left out, and said so
    assert "note: " in printed and "ns_gan_triangles_c000_s1" in printed
    assert "No test possible (n < 2) between Hinge GAN and NS GAN on Triangles" in printed
    text = (out / "comparison" / "comparison.md").read_text()
    assert "| NS GAN | 1 (0) |" in text and "no test possible (n < 2)" in text
    mean = load_rows(out).query("final")["mean_pixel"].iloc[0]
    assert f"| **Hinge GAN** (new) | 1 (0) | {mean:.4f}" in text


def _edited_copy(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst)
    manifest = dst / "study.json"
    payload = json.loads(manifest.read_text())
    edit(payload)
    manifest.write_text(json.dumps(payload))
    return dst


def _other_lr(payload):
    payload["runs"][0]["lr"] = 1e-3


def _other_dataset(payload):
    for run in payload["runs"]:
        run["dataset"] = "fashion_mnist"
        run["run_id"] = run["run_id"].replace("triangles", "fashion_mnist")


def _other_steps(payload):
    payload["config"]["schedule"]["steps"] = 6


@pytest.mark.parametrize("extra, edit, message", [
    (["--profile", "cpu", "--seeds", "0,1"], None,
     "baseline {base} used profile smoke, this comparison uses cpu; pass --profile smoke or "
     "rerun the baselines"),
    (["--profile", "smoke", "--steps", "8", "--seeds", "0,1"], None,
     "used profile smoke, this comparison uses smoke[steps=8]; pass --profile smoke"),
    (["--profile", "smoke", "--seeds", "0,1,2"], None,
     "baseline {base} has seeds 0,1 of ns_gan on triangles, this comparison uses seeds 0-2; "
     "pass --seeds 0,1 or rerun the baselines with --seeds 0-2"),
    (["--profile", "smoke", "--seeds", "0,1", "--study", "custom", "--space", "wide",
      "--configs", "2"], None,
     "has configs 0 of ns_gan on triangles, this comparison uses configs 0,1; pass --configs 1 "
     "or rerun the baselines with `sweep --study custom --space wide --configs 2`"),
    (["--profile", "smoke", "--seeds", "0,1"], _other_lr,
     "'s run ns_gan_triangles_c000_s0 has lr=0.001, this comparison's config 0 of ns_gan has "
     "lr=5e-05"),
    (["--profile", "smoke", "--seeds", "0,1"], _other_steps,
     "used profile smoke with schedule.steps=6, this comparison's smoke has schedule.steps=4"),
])
def test_a_protocol_mismatch_is_refused_in_one_line_and_writes_nothing(
        baselines, tmp_path, capsys, monkeypatch, extra, edit, message):
    base = baselines if edit is None else _edited_copy(baselines, tmp_path / "edited", edit)
    before = _files(base)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = ["compare", "--model", "hinge", "--baselines", str(base), "--no-progress", *extra]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message.format(base=base) in err, err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert list(work.iterdir()) == [] and _files(base) == before


def test_the_advice_to_rerun_the_baselines_is_a_study_that_sweep_accepts(
        baselines, tmp_path, capsys, monkeypatch):
    """The advised ``sweep`` options build a study (the default study would refuse
    ``--configs 2``: it trains only the author defaults)."""
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--model", "hinge", "--baselines", str(baselines), "--seeds", "0,1",
            "--study", "custom", "--space", "wide", "--configs", "2", *SMOKE]
    assert cli.main(argv) == 2
    advice = capsys.readouterr().err.split("`")[1].split()
    assert advice[0] == "sweep"
    args = cli.build_parser().parse_args([*advice, "--seeds", "0,1", *SMOKE])
    study = build_study(args.study, profile=resolve("smoke"), models=["ns_gan"],
                        seeds=args.seeds, num_configs=args.configs, space=args.space)
    assert sorted({r.config for r in study.runs}) == [0, 1]


@pytest.mark.parametrize("args, message", [
    (["--model", "foo", "--baselines", "{base}"], "unknown model 'foo'; choose one of"),
    (["--model", "hinge", "--baselines", "{tmp}/nowhere"],
     "baseline directory {tmp}/nowhere does not exist; pass the --results-dir of a finished "
     "train or sweep"),
    (["--model", "hinge", "--baselines", "{tmp}/empty"],
     "baseline directory {tmp}/empty holds no results (no study.json); pass the --results-dir"),
    (["--model", "hinge", "--baselines", "{tmp}/fashion"],
     "has ns_gan on fashion_mnist, not on triangles; pass --datasets fashion_mnist or train "
     "the baselines on triangles"),
    (["--model", "hinge", "--baselines", "{base}", "--datasets", "svhn"],
     "unknown data set 'svhn'"),
    (["--model", "hinge"], "name the baselines: --baselines DIR"),
    (["--model", "hinge", "--baselines", "{base}", "--study", "phase3"],
     "compare does not run phase3"),
    (["--model", "hinge", "--baselines", "{base}", "--hp", "gamma=0.5"],
     "--hp gamma applies to none of hinge; their hyperparameters: beta1, disc_bn, lr, n_disc"),
    (["--model", "ns_gan", "--baselines", "{base}"], "holds no model but ns_gan"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
        baselines, tmp_path, capsys, monkeypatch, args, message):
    (tmp_path / "empty").mkdir()
    _edited_copy(baselines, tmp_path / "fashion", _other_dataset)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    fill = {"base": baselines, "tmp": tmp_path}
    argv = ["compare", *[a.format(**fill) for a in args], "--seeds", "0,1",
            "--results-dir", str(tmp_path / "out"), *SMOKE]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message.format(**fill) in err, err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and list(work.iterdir()) == []


# --- hyperparameter flags derived from the losses' HParams -----------------------------------


def _toy_d_loss(out, hp, extra):
    margin = hp["margin"]
    return jnp.mean(jax.nn.relu(margin - out.d_real)) + jnp.mean(jax.nn.relu(margin + out.d_fake))


def toy_recipe() -> Model:
    return Model(
        "Toy GAN", Objective(_toy_d_loss, lambda out, hp, extra: -jnp.mean(out.d_fake)),
        common={"lr": 2e-4, "beta1": 0.5, "n_disc": 1, "disc_bn": True},
        hparams=(HParam("margin", 1.0, wide=Uniform(0.5, 2.0), narrow=Uniform(0.5, 1.5),
                        low=0.0, high=10.0, help="the toy hinge margin m"),),
    )


@pytest.fixture
def toy(monkeypatch):
    """The toy loss registered, and the CLI's training replaced by a record of the study."""
    monkeypatch.setitem(model_registry.RECIPES, "toy_gan", toy_recipe)
    studies = []
    monkeypatch.setattr(cli, "_run", lambda args, study: studies.append(study))
    return studies


def test_a_new_loss_hyperparameter_is_a_flag_with_its_help(toy, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--margin MARGIN the toy hinge margin m (toy_gan: in [0, 10], default 1)" in text
    assert "--clip CLIP WGAN weight-clipping bound c (wgan: in [0, inf), default 0.01)" in text
    assert "(wgan_gp, dragan: in [0, inf), default 10)" in text
    assert "--lambda-k LAMBDA_K" in text and "(began: in [0, 1], default 0.75)" in text
    assert "--hp NAME=VALUE" in text
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    assert "--margin MARGIN the toy hinge margin m" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("flags, model, expected", [
    (["--margin", "2.5"], "toy_gan", {"margin": 2.5}),
    (["--hp", "margin=3"], "toy_gan", {"margin": 3.0}),
    (["--hp", "margin=0.5", "--lr", "1e-3"], "toy_gan", {"margin": 0.5, "lr": 1e-3}),
    (["--clip", "0.05"], "wgan", {"clip": 0.05}),
    (["--lambda-k", "0.01", "--gamma", "0.5"], "began", {"lambda_k": 0.01, "gamma": 0.5}),
    (["--lambda", "5"], "wgan_gp,dragan", {"lambda": 5.0}),
    (["--hp", "n_disc=5", "--hp", "disc_bn=no"], "ns_gan", {}),
])
def test_hyperparameters_from_the_command_line_reach_the_runs(toy, flags, model, expected):
    assert cli.main(["train", "--model", model, "--seeds", "0,1", *flags]) == 0
    (study,) = toy
    assert {r.model for r in study.runs} == set(model.split(",")) and len(study.runs) == \
        2 * len(model.split(","))
    for run in study.runs:
        for name, value in expected.items():
            assert run.hp[name] == value
    if "n_disc=5" in flags:
        assert all(r.n_disc == 5 and r.disc_bn is False for r in study.runs)


@pytest.mark.parametrize("flags, message", [
    (["--model", "toy_gan", "--margin", "20"],
     "margin=20.0 is outside its valid range [0, 10] for toy_gan (the toy hinge margin m); "
     "toy_gan's hyperparameters: lr, beta1, n_disc, disc_bn, margin in [0, 10]"),
    (["--model", "toy_gan", "--hp", "margin=-1"], "margin=-1.0 is outside its valid range"),
    (["--model", "began", "--gamma", "1.5"],
     "gamma=1.5 is outside its valid range [0, 1] for began"),
    (["--model", "ns_gan", "--margin", "1"],
     "--margin applies to none of ns_gan; their hyperparameters: beta1, disc_bn, lr, n_disc"),
    (["--model", "toy_gan", "--hp", "margin=wide"],
     "--hp margin 'wide' is not a valid margin; pass e.g. --hp margin=1.0"),
    (["--model", "toy_gan", "--margin", "x"], "--margin 'x' is not a valid margin"),
    (["--model", "toy_gan", "--hp", "margin"], "--hp 'margin': expected NAME=VALUE"),
    (["--model", "toy_gan", "--margin", "1", "--hp", "margin=2"],
     "margin is given twice (--margin and --hp margin); give it once"),
])
def test_bad_hyperparameter_values_are_one_line_errors(toy, capsys, tmp_path, monkeypatch,
                                                       flags, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.startswith("error: ") and err.count("\n") == 1 and not toy
    assert list(tmp_path.iterdir()) == []


def test_compare_fixes_the_new_models_hyperparameter_in_every_configuration(
        toy, baselines, monkeypatch, tmp_path):
    plans = []

    def write(plan, *args, **kwargs):
        plans.append(plan)
        return compare_cmd.Comparison.__new__(compare_cmd.Comparison), []

    monkeypatch.setattr(compare_cmd, "write_comparison", write)
    monkeypatch.setattr(compare_cmd.Comparison, "sentences", [], raising=False)
    argv = ["compare", "--model", "toy_gan", "--margin", "2", "--baselines", str(baselines),
            "--seeds", "0,1", "--results-dir", str(tmp_path / "c"), *SMOKE]
    assert cli.main(argv) == 0
    (study,) = toy
    assert study.name == "compare_toy_gan"
    assert [(r.model, r.seed, r.hp["margin"]) for r in study.runs] == [
        ("toy_gan", 0, 2.0), ("toy_gan", 1, 2.0)]
    (plan,) = plans
    assert plan.baselines == ("ns_gan",) and plan.overrides == {"margin": 2.0}
    assert "margin=2.0 (the baselines keep the study's)" in compare_cmd.protocol_markdown(
        plan, tmp_path / "c")


def test_a_directory_of_studies_uses_those_under_the_comparisons_profile(baselines, tmp_path):
    shutil.copytree(baselines, tmp_path / "all" / "a_smoke")
    _edited_copy(baselines, tmp_path / "all" / "b_longer", _other_steps)
    plan = compare_cmd.plan_comparison("hinge", [tmp_path / "all"], profile=resolve("smoke"),
                                       seeds=[0, 1])
    assert plan.sources == {"ns_gan": (tmp_path / "all" / "a_smoke",)} and not plan.trained
    assert [r.model for r in plan.study.runs] == ["hinge", "hinge"]
    assert set(plan.baseline_rows["run_id"]) == {"ns_gan_triangles_c000_s0",
                                                 "ns_gan_triangles_c000_s1"}
    assert len(plan.baseline_rows) == 4  # two runs x two evaluations, from a_smoke only
    assert any("b_longer holds ns_gan under profile smoke" in n for n in plan.notes)
    with pytest.raises(UserError, match="a_smoke used profile smoke, this comparison uses cpu"):
        compare_cmd.plan_comparison("hinge", [tmp_path / "all"], profile=resolve("cpu"),
                                    seeds=[0, 1])
    # --models: a model no directory holds is trained beside the new model
    plan = compare_cmd.plan_comparison("hinge", [baselines], profile=resolve("smoke"),
                                       seeds=[0, 1], models=["ns_gan", "lsgan"])
    assert plan.trained == ("lsgan",) and plan.baselines == ("ns_gan", "lsgan")
    assert sorted({r.model for r in plan.study.runs}) == ["hinge", "lsgan"]
