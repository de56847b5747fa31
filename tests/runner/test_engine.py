"""The study engine: rows, samples, resume after interruption, failed runs, bad input, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import training as train
from benchmark.cli import main as cli
from benchmark.errors import UserError
from benchmark.evaluation.evaluator import Evaluator
from benchmark.runner import engine, task_files, trace
from benchmark.runner.checkpoints import TaskCheckpoints
from benchmark.runner.progress import StudyProgress
from benchmark.runner.results import load_rows
from sweeps import config as configs
from sweeps.runs import Study, make_run
from sweeps.studies import build_study
from tests.conftest import SHARED_DATA, two_device_env

TINY = configs.derive({"schedule.steps": 4, "schedule.eval_every": 2, "evaluation.grid_size": 4,
                       "evaluation.metrics.precision_recall.samples": 20,
                       "evaluation.metrics.fid.samples": 64}, name="tiny")
REPO = Path(__file__).resolve().parents[2]


def _study(runs=None, name="t"):
    runs = runs or (make_run("ns_gan", "triangles", 0), make_run("ns_gan", "triangles", 1))
    return Study(name, tuple(runs), TINY)


def _all_rows(root):
    df = load_rows(root).drop(columns=["eval_seconds"])
    return df.sort_values(["run_id", "step"]).reset_index(drop=True)


@pytest.mark.slow
def test_study_writes_rows_samples_and_resumes_to_the_same_result(
    tmp_path, cheap_metrics, monkeypatch
):
    study = _study()
    monkeypatch.setenv(trace.ENV, str(tmp_path / "trace"))  # the phases the chaos script aims at
    final = engine.run_study(study, tmp_path / "a", progress=False)
    monkeypatch.delenv(trace.ENV)
    phases = [(task, name) for _, _, task, name in trace.read(tmp_path / "trace")]
    (task,) = {task for task, _ in phases}  # the two seeds are one task, one task
    # no checkpoint after the last evaluation: its rows finish the task
    assert [name for _, name in phases] == ["train", "evaluate", "rows", "checkpoint"] + [
        "train", "evaluate", "rows", "done"]
    assert sorted(final["run_id"]) == sorted(r.run_id for r in study.runs)
    rows = _all_rows(tmp_path / "a")
    assert list(rows["step"]) == [2, 4, 2, 4]
    assert list(rows["final"]) == [False, True, False, True]
    for col in ("model", "dataset", "seed", "lr", "beta1", "n_disc", "disc_bn", "d_loss",
                "g_loss", "sample_mean", "failed"):
        assert col in rows
    assert not rows["failed"].any()
    assert rows["d_loss"].notna().all() and rows["g_loss"].notna().all()
    pngs = sorted((tmp_path / "a" / "samples").glob("*/step_*.png"))
    assert len(pngs) == 4 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    # a finished task's checkpoint is deleted (the rows hold the results)
    assert not list((tmp_path / "a").glob("groups/*/checkpoints/*"))

    # Interrupted right after the first checkpoint, then resumed: the same rows and PNGs.
    real_save = TaskCheckpoints.save

    def save_then_crash(self, step, state):
        real_save(self, step, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(TaskCheckpoints, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        engine.run_study(study, tmp_path / "b", progress=False)
    assert list(load_rows(tmp_path / "b")["step"]) == [2, 2]
    monkeypatch.setattr(TaskCheckpoints, "save", real_save)
    engine.run_study(study, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(_all_rows(tmp_path / "a"), _all_rows(tmp_path / "b"),
                                  check_exact=True)  # bitwise on CPU
    for p in pngs:
        assert (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes() == p.read_bytes()

    # A crash after the rows of step 2 were written but before its checkpoint: the rows
    # after the checkpoint (here: none) are dropped and retrained, with the same values.
    def crash_before_saving(self, step, state):
        raise KeyboardInterrupt

    monkeypatch.setattr(TaskCheckpoints, "save", crash_before_saving)
    with pytest.raises(KeyboardInterrupt):
        engine.run_study(study, tmp_path / "c", progress=False)
    assert list(load_rows(tmp_path / "c")["step"]) == [2, 2]
    assert not list((tmp_path / "c").glob("groups/*/checkpoints/*"))
    monkeypatch.setattr(TaskCheckpoints, "save", real_save)
    engine.run_study(study, tmp_path / "c", progress=False)
    pd.testing.assert_frame_equal(_all_rows(tmp_path / "a"), _all_rows(tmp_path / "c"),
                                  check_exact=True)

    # A crash after the last rows, before the task was marked done (study a's files without
    # its DONE marker): the rows finish it, so no checkpoint of the last step is needed (none
    # is written) and nothing is trained again.
    shutil.copytree(tmp_path / "a", tmp_path / "d")
    for group in (tmp_path / "d" / "groups").iterdir():
        task_files.clear_markers(tmp_path / "d", group.name)
        assert not task_files.is_done(tmp_path / "d", group.name)
    monkeypatch.setattr(engine.Trainer, "advance", None)  # would fail if called
    engine.run_study(study, tmp_path / "d", progress=False)
    pd.testing.assert_frame_equal(_all_rows(tmp_path / "a"), _all_rows(tmp_path / "d"),
                                  check_exact=True)
    assert all(task_files.is_done(tmp_path / "d", g.name)
               for g in (tmp_path / "d" / "groups").iterdir())

    # A finished study is not retrained: rerunning returns the same final rows at once.
    monkeypatch.setattr(engine.Trainer, "advance", None)  # would fail if called
    again = engine.run_study(study, tmp_path / "a", progress=False)
    pd.testing.assert_frame_equal(final.drop(columns="eval_seconds"),
                                  again.drop(columns="eval_seconds"))


def test_a_diverging_run_is_marked_failed_and_its_neighbour_is_unaffected(
    tmp_path, cheap_metrics
):
    # Our losses are the numerically stable forms, so NS GAN at lr = 1 swings wildly (D
    # losses in the hundreds) but stays finite for many steps; lr = 1e30 overflows at step 0.
    healthy = make_run("ns_gan", "triangles", 0)
    wild = make_run("ns_gan", "triangles", 1, {"lr": 1e30})
    engine.run_study(_study((healthy, wild), "pair"), tmp_path / "pair", progress=False)
    engine.run_study(_study((healthy,), "solo"), tmp_path / "solo", progress=False)
    pair, solo = _all_rows(tmp_path / "pair"), _all_rows(tmp_path / "solo")
    bad = pair[pair["run_id"] == wild.run_id]
    assert bad["failed"].all() and (bad["failed_step"] == 0).all(), bad
    assert (bad["failed_value"] == "g_loss").all()  # its D loss was finite, its G loss not
    # losses: the failing step's D loss (finite; its G update was not) then nothing
    assert np.isfinite(bad["d_loss"].iloc[0]) and np.isnan(bad["d_loss"].iloc[1])
    assert np.isnan(bad["sample_mean"].iloc[-1])  # a failed run has no score
    good = pair[pair["run_id"] == healthy.run_id].reset_index(drop=True)
    assert not good["failed"].any()
    cols = ["step", "d_loss", "g_loss", "sample_mean"]
    pd.testing.assert_frame_equal(good[cols], solo[cols])


@pytest.mark.slow
def test_vmapped_sharded_plan_matches_the_cpu_plan(tmp_path):
    """Three runs vmapped in one program and sharded over two (virtual) devices, padded to
    four, against the CPU plan's one call per run: the same rows (two steps, one
    evaluation: a segment of two steps against two of one)."""
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
import jax
assert jax.local_device_count() == 2
from benchmark.runner import engine
from benchmark.evaluation.evaluator import Evaluator
from benchmark.training import Plan
from tests.conftest import sample_mean_metrics
from tests.runner.test_engine import TINY, _all_rows
from sweeps import config as configs
from sweeps.runs import Study, make_run
Evaluator.metrics = sample_mean_metrics
runs = tuple(make_run("lsgan", "triangles", s, {{"lr": lr}})
             for s, lr in ((0, 1e-4), (1, 3e-4), (2, 1e-3)))
two = configs.derive({{"schedule.steps": 2, "schedule.eval_every": 2}}, base=TINY, name="two")
engine.run_study(Study("t", runs, two), sys.argv[1] + "/vmap", progress=False,
                 plan=Plan(chunk=2, unroll=True, branch=True))
engine.run_study(Study("t", runs, two), sys.argv[1] + "/split", progress=False,
                 plan=Plan(chunk=1, unroll=True, branch=False, static_g=True, split_runs=True))
a, b = _all_rows(sys.argv[1] + "/vmap"), _all_rows(sys.argv[1] + "/split")
import numpy as np
for col in ("d_loss", "g_loss", "sample_mean"):
    # grouped (vmapped) and single convolutions round differently and lr 1e-3 amplifies it:
    # 0.2% after 4 steps on the v1 triangles, 0.6% on the colab's (generator version 2)
    np.testing.assert_allclose(a[col], b[col], rtol=1e-2, atol=1e-5, err_msg=col)
print("OK", len(a))
"""
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=two_device_env(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK 3" in out.stdout


def test_results_dir_of_another_study_is_refused_and_untouched(tmp_path, cheap_metrics):
    root = tmp_path / "r"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        engine.run_study(_study(), root, progress=False)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]

    other = tmp_path / "o"
    engine.run_study(_study((make_run("lsgan", "triangles", 0),), "other"), other,
                     progress=False)
    before = {p: p.read_bytes() for p in other.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match="another configuration"):
        engine.run_study(_study(), other, progress=False)
    assert {p: p.read_bytes() for p in other.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "foo"], "unknown model 'foo'"),
    (["train", "--model", "ns_gan", "--dataset", "imagenet"], "unknown data set 'imagenet'"),
    (["train", "--model", "ns_gan", "--lr", "0"], "lr=0.0 is not a positive number"),
    (["train", "--model", "ns_gan", "--lr=-1e-3"], "is not a positive number"),
    (["train", "--model", "ns_gan", "--n-disc", "0"], "n_disc=0 must be a whole number >= 1"),
    (["train", "--model", "ns_gan", "--beta1", "1.5"], "beta1=1.5 is outside [0, 1]"),
    (["train", "--model", "wgan_gp", "--lambda", "-1"], "lambda=-1.0 is outside"),
    (["train", "--model", "ns_gan", "--clip", "0.1"], "--clip applies to none of ns_gan"),
    (["train", "--model", "dragan", "--option", "perturbation=laplace"], "choose one of"),
    (["train", "--model", "ns_gan", "--profile", "fast"], "unknown profile 'fast'"),
    (["sweep", "--study", "phase9"], "phase9"),
    (["sweep", "--datasets", "svhn"], "unknown data set 'svhn'"),
    (["report", "/nonexistent/results"], "no results under /nonexistent/results"),
    (["train", "--model", "ns_gan", "--dataset", "cifar10", "--data-dir", "/nonexistent/d"],
     "data directory /nonexistent/d does not exist"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch,
                                                         args, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_cli_train_prints_the_table_and_rerun_resumes(tmp_path, capsys, cheap_metrics):
    args = ["train", "--model", "began", "--seeds", "0,1", "--profile", "smoke",
            "--results-dir", str(tmp_path / "r"), "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "BEGAN" in out and "2" in out
    rows = load_rows(tmp_path / "r")
    assert set(rows["seed"]) == {0, 1} and set(rows["step"]) == {2, 4}
    assert {"k", "convergence"} <= set(rows.columns)
    manifest = json.loads((tmp_path / "r" / "study.json").read_text())
    assert manifest["name"] == "train_began_triangles"
    # every study ends with its report; the last lines name it and the samples' montage
    report = tmp_path / "r" / "report"
    last = out.strip().splitlines()[-2:]
    assert last[0].startswith(f"report: {report / 'summary.md'}")
    assert last[1] == f"samples of every model: {report / 'samples.png'}"
    assert (report / "summary.md").is_file() and (report / "samples.png").is_file()
    assert "![samples of every model](samples.png)" in (report / "summary.md").read_text()
    assert cli.main(args) == 0  # finished: resumes to the same table without training
    assert capsys.readouterr().out == out
    assert cli.main(["report", str(tmp_path / "r")]) == 0
    assert "| BEGAN | 2 (0) |" in (report / "summary.md").read_text()


def test_profile_overrides_show_in_every_row_and_the_bar_ends_with_the_study(
    tmp_path, cheap_metrics, monkeypatch
):
    profile = configs.derive({"study.seeds": (0,),
                              "hparams.overrides": (("beta1", 0.5), ("lr", 1e-3))},
                             name="tiny_preview", base=TINY)
    study = build_study("default", profile=profile, models=["ns_gan", "vae"])
    events = []

    class Spy(StudyProgress):
        def trained(self, run_steps):
            super().trained(run_steps)
            events.append(("trained", self.fraction))

        def evaluated(self, step):
            super().evaluated(step)
            events.append(("evaluated", self.fraction))

    monkeypatch.setattr(engine, "StudyProgress", Spy)
    engine.run_study(study, tmp_path / "p", progress=False)
    rows = load_rows(tmp_path / "p")
    assert set(rows["model"]) == {"ns_gan", "vae"} and set(rows["seed"]) == {0}
    assert set(rows["lr"]) == {1e-3} and set(rows["beta1"]) == {0.5}
    assert set(rows["profile"]) == {"tiny_preview"}
    # the bar counts the evaluations: 100% only after the last one, never before
    assert events[-1] == ("evaluated", 1.0)
    assert all(fraction < 1.0 for _, fraction in events[:-1])
    assert sum(kind == "evaluated" for kind, _ in events) == 4


@pytest.mark.skipif(not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").is_file(),
                    reason=f"real MNIST files not found in {SHARED_DATA}")
@pytest.mark.slow
def test_fifty_steps_on_real_mnist_scored_with_fid_lenet(tmp_path):
    profile = configs.derive({"schedule.steps": 50, "schedule.eval_every": 50,
                              "evaluation.grid_size": 16,
                              "evaluation.metrics.precision_recall.samples": 0,
                              "evaluation.metrics.fid.samples": 500}, name="mnist50")
    study = Study("m", (make_run("ns_gan", "mnist", 0),), profile)
    final = engine.run_study(study, tmp_path, data_dir=SHARED_DATA, fid_feature="lenet",
                             progress=False)
    row = final.iloc[0]
    assert row["step"] == 50 and not row["failed"] and row["fid_feature"] == "lenet"
    # 50 steps make blobs, far from digits but finite; FID-LeNet of real vs real is ~1
    assert np.isfinite(row["fid"]) and row["fid"] > 10
    assert (tmp_path / "samples" / row["run_id"] / "step_000050.png").is_file()


def test_debiased_bn_averages_recover_constant_batch_statistics():
    """n EMA updates (flax BatchNorm, decay 0.999) of constant batch statistics, debiased,
    give those statistics back exactly; and the update count follows n_disc."""
    import jax

    from benchmark import training as train
    from models.layers import batch_norm

    x = jax.random.normal(jax.random.PRNGKey(0), (64, 5)) * 3.0 + 2.0
    bn = batch_norm(train=True)
    variables = bn.init(jax.random.PRNGKey(1), x)
    stats = variables["batch_stats"]
    for _ in range(30):
        _, upd = bn.apply({**variables, "batch_stats": stats}, x, mutable=["batch_stats"])
        stats = upd["batch_stats"]
    state = train.RunState(key=None, params={}, batch_stats={"generator": stats}, opt_state={},
                           extra={}, perm=None, failed_step=None)
    fixed = train.debias_generator_stats(state, 30).batch_stats["generator"]
    np.testing.assert_allclose(fixed["mean"], x.mean(0), rtol=1e-3)
    np.testing.assert_allclose(fixed["var"], x.var(0), rtol=1e-3)
    assert not np.allclose(stats["mean"], x.mean(0), rtol=0.5)  # raw: still near 0
    wgan = train.Structure.of(make_run("wgan", "triangles", 0), (28, 28, 1))  # n_disc = 5
    assert train.generator_bn_updates(wgan, 10) == 10 + 3  # G steps 0, 1, 6 (v1)
    assert train.generator_bn_updates(wgan, 12) == 12 + 4  # and 11
    modulo = train.Structure.of(make_run("wgan", "triangles", 0, g_schedule="modulo"),
                                (28, 28, 1))
    assert train.generator_bn_updates(modulo, 10) == 10 + 2  # G steps 0, 5
    assert train.generator_bn_updates(modulo, 11) == 11 + 3  # and 10
    vae = train.Structure.of(make_run("vae", "triangles", 0), (28, 28, 1))
    assert train.generator_bn_updates(vae, 10) == 10


@pytest.mark.parametrize("model", ["ns_gan", "vae"])
def test_recomputed_bn_statistics_reproduce_training_mode(model):
    """G's BN averages recomputed from one batch of latents: inference mode on that batch is
    G's training-mode pass on it (every layer normalised by the same statistics); from
    several batches, the mean of their statistics."""
    import jax

    from benchmark import training as train
    from models import priors

    structure = train.Structure.of(make_run(model, "triangles", 0), (28, 28, 1))
    states = train.init_runs(structure, 1000, np.array([0, 1], np.uint32))
    G = train.family(structure).generator(structure)
    z = priors.sample(jax.random.PRNGKey(3), (2, 64, structure.z_dim), structure.recipe.latent)
    fixed = train.recompute_generator_stats(states, z[:1], structure=structure)
    inference = train.generate(fixed, z[0], structure=structure)
    for run in range(2):
        variables = jax.tree.map(lambda a, r=run: a[r], train.generator_variables(states))
        training, _ = G.apply(variables, z[0], train=True, mutable=["batch_stats"])
        np.testing.assert_allclose(inference[run], training, atol=2e-4)
    assert not np.allclose(train.generate(states, z[0], structure=structure), inference,
                           atol=1e-2)  # the initial averages (0, 1) differ
    both = train.recompute_generator_stats(states, z, structure=structure)
    second = train.recompute_generator_stats(states, z[1:], structure=structure)
    jax.tree.map(lambda a, b, c: np.testing.assert_allclose(a, (b + c) / 2, rtol=1e-4,
                                                           atol=1e-6),
                 both.batch_stats["generator"], fixed.batch_stats["generator"],
                 second.batch_stats["generator"])


def test_fid_feature_auto_falls_back_to_lenet_only_where_it_exists(tmp_path, monkeypatch):
    """Offline (no Inception weights): MNIST and Fashion-MNIST get FID-LeNet, other data
    sets no FID; an explicit ``inception`` request is the one-line error itself."""
    from benchmark import data
    from benchmark.data import ImageDataset
    from benchmark.evaluation import fid_features
    from metrics import features, fid

    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))

    def no_weights(*args, **kwargs):
        raise UserError("Inception weights are missing; set GAN_BENCHMARK_INCEPTION_WEIGHTS")

    def fake_lenet(dataset, data_dir=None):  # pixel features: exact and cheap
        return features.FeatureExtractor("lenet", lambda p, x: (x.reshape(x.shape[0], -1), None),
                                    {}, f"fake-{dataset}", "none", (28, 28, 1))

    monkeypatch.setattr(fid_features, "inception_extractor", no_weights)
    monkeypatch.setattr(fid_features, "lenet_extractor", fake_lenet)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    ds = ImageDataset("mnist", images, images)
    profile = configs.derive({"schedule.steps": 2, "schedule.eval_every": 2,
                              "evaluation.metrics.precision_recall.samples": 1,
                              "evaluation.metrics.fid.samples": 32}, name="p")
    structure = train.Structure.of(make_run("ns_gan", "mnist", 0), (28, 28, 1))
    states = train.init_runs(structure, 40, np.arange(2, dtype=np.uint32))
    out = Evaluator(data.get("mnist"), ds, profile).metrics(structure, states, last=True)
    assert out["fid_feature"] == "lenet" and out["fid"].shape == (2,)
    # the value is the Fréchet distance of pixel statistics, computed independently here
    z = Evaluator(data.get("mnist"), ds, profile).latents(structure, 32)
    fake = np.asarray(train.generate(states, z, structure=structure))[0].reshape(32, -1)
    real = ds.as_float(images[:32]).reshape(32, -1)
    expected = fid.fid_from_features(real, fake)
    np.testing.assert_allclose(out["fid"][0], expected, rtol=1e-4)

    cifar = ImageDataset("cifar10", images, images)
    on_cifar = Evaluator(data.get("cifar10"), cifar, profile)
    assert on_cifar.metrics(structure, states, last=True) == {}
    with pytest.raises(UserError, match="Inception weights are missing"):
        inception_only = Evaluator(data.get("mnist"), ds, configs.override(
            profile, {"evaluation.fid_feature": "inception"}))
        inception_only.metrics(structure, states, True)
