"""Every bad input reachable from the command line: one line naming the problem and the fix,
exit status 2, nothing written (the results directory, a report folder, the manifest)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from benchmark.cli import main as cli
from benchmark.runner.task_files import mark_done

T = ["train", "--model", "ns_gan"]
S = ["sweep"]

CASES = [
    # names
    (["train", "--model", "foo"], "unknown model 'foo'"),
    (T + ["--dataset", "imagenet"], "unknown data set 'imagenet'"),
    (S + ["--datasets", "svhn"], "unknown data set 'svhn'"),
    (S + ["--models", "gan3"], "unknown model 'gan3'"),
    (S + ["--study", "phase9"], "unknown study 'phase9'"),
    (S + ["--study", "custom", "--space", "medium", "--configs", "3"], "unknown search space"),
    (T + ["--profile", "fast"], "unknown profile 'fast'"),
    (T + ["--fid-feature", "vgg"], "invalid choice: 'vgg'"),
    (T + ["--executor", "dask"], "invalid choice: 'dask'"),
    (T + ["--option", "perturbation=gaussian"], "has no option 'perturbation'"),
    (["train", "--model", "dragan", "--option", "perturbation=laplace"], "choose one of"),
    (["train", "--model", "dragan", "--option", "perturbation"], "expected KEY=VALUE"),
    # values
    (T + ["--lr", "0"], "lr=0.0 is not a positive number"),
    (T + ["--lr=-1e-3"], "is not a positive number"),
    (T + ["--lr", "nan"], "is not a positive number"),
    (T + ["--lr", "fast"], "invalid"),
    (T + ["--beta1", "1.5"], "beta1=1.5 is outside [0, 1]"),
    (T + ["--n-disc", "0"], "n_disc=0 must be a whole number >= 1"),
    (T + ["--disc-bn", "maybe"], "expected yes or no"),
    (["train", "--model", "wgan_gp", "--lambda", "-1"], "lambda=-1.0 is outside"),
    (["train", "--model", "began", "--gamma", "2"], "gamma=2.0 is outside"),
    (T + ["--clip", "0.1"], "--clip applies to none of ns_gan"),
    (["train", "--model", "gran", "--d-lr-ratio", "-1"], "d_lr_ratio=-1.0 is outside"),
    (T + ["--d-lr-ratio", "0.4"], "--d-lr-ratio applies to none of ns_gan"),
    (T + ["--seeds", "a,b"], "is not a comma-separated list of integers"),
    (T + ["--seeds", "-1"], "seed=-1"),
    (T + ["--seeds", str(2**32)], "[0, 2**32)"),
    (T + ["--steps", "0"], "--steps 0 must be >= 1"),
    (T + ["--eval-every", "-5"], "--eval-every -5 must be >= 1"),
    (T + ["--config", "schedule.stepz=3"], "no key 'schedule.stepz'"),
    (T + ["--config", "steps=3"], "did you mean schedule.steps?"),
    (T + ["--config", "schedule.steps=abc"], "schedule.steps=abc: invalid literal for int()"),
    (T + ["--config", "evaluation.metrics.fid.samples=0.5"], "fid.samples=0.5: invalid"),
    (T + ["--config", "fidelity.matmul_precision=bf16"], "--precision bf16 is not one of"),
    (T + ["--config", "execution.max_group=0"], "execution.max_group=0 must be >= 1"),
    (T + ["--config", "schedule.steps"], "expected KEY=VALUE"),
    (T + ["--steps", "5", "--config", "schedule.steps=6"], "schedule.steps is set twice"),
    (T + ["--steps", "ten"], "invalid int value"),
    (S + ["--study", "custom", "--space", "wide", "--configs", "0"], "num_configs=0"),
    (S + ["--study", "custom", "--space", "wide"], "needs num_configs"),
    (S + ["--configs", "5"], "only the author defaults"),
    (S + ["--study", "phase3"], "phase1-dir"),
    (S + ["--study", "phase3", "--phase1-dir", "/nonexistent/p1"], "does not exist"),
    (S + ["--phase1-dir", "{tmp}"], "no results under"),
    (T + ["--slurm-array-parallelism", "0", "--executor", "slurm"], "must be >= 1"),
    (T + ["--gpus-per-task", "-1", "--executor", "ray"], "must be >= 0"),
    (T + ["--ray-max-retries", "-1", "--executor", "ray"], "--ray-max-retries -1 must be >= 0"),
    # empty, blank and repeated values in lists (an empty --model once trained no model)
    (["train", "--model", ""], "'' names nothing; give at least one name"),
    (["train", "--model", " , "], "names nothing"),
    (S + ["--models", ""], "argument --models: '' names nothing"),
    (S + ["--datasets", " "], "argument --datasets: ' ' names nothing"),
    (S + ["--models", "ns_gan, ns_gan"], "ns_gan is named twice in 'ns_gan, ns_gan'"),
    (S + ["--datasets", "triangles,triangles"], "triangles is named twice"),
    (T + ["--seeds", "0,0"], "0 is named twice in '0,0'"),
    (T + ["--seeds", ""], "give at least one value, e.g. 0,1,2 or 0-2"),
    (T + ["--seeds", "0..2"], "or a range (e.g. 0-2)"),
    (T + ["--seeds", "2-0"], "'2-0' counts down; write the range from low to high, e.g. 0-2"),
    (["compare", "--model", "hinge", "--baselines", ","], "argument --baselines: ',' names"),
    (["compare", "--model", "hinge", "--metrics", ""], "argument --metrics: '' names nothing"),
    (["compare", "--model", "hinge", "--metrics", "fid,f2"], "unknown metric 'f2'; choose among"),
    (["train", "--model", "dragan", "--option", "perturbation=gaussian", "--option",
      "perturbation=uniform"], "--option perturbation is given twice"),
    (T + ["--results-dir", ""], "argument --results-dir: an empty path"),
    (T + ["--data-dir", " "], "argument --data-dir: an empty path"),
    (S + ["--study", "phase3", "--phase1-dir", ""], "argument --phase1-dir: an empty path"),
    (["report", ""], "an empty path"),
    (["status", " "], "an empty path"),
    # files and directories
    (T + ["--results-dir", "{file}"], "is a file"),
    (T + ["--results-dir", "{readonly}/r"], "permission denied"),
    (T + ["--results-dir", "{stranger}"], "is not empty and is not a study directory"),
    (T + ["--dataset", "cifar10", "--data-dir", "/nonexistent/d"],
     "data directory /nonexistent/d does not exist"),
    (["report", "/nonexistent/results"], "no results under /nonexistent/results"),
    (["report", "{tmp}"], "no results under"),
    (["status", "/nonexistent/results"], "holds no study"),
    (["status", "{tmp}"], "holds no study"),
    (T + ["--results-dir", "{tmp}/r", "--cache", "{file}"], "is a file, not a folder; set $GAN"),
    (T + ["--results-dir", "{tmp}/r", "--cache", "{file}/sub"], "cannot be created (Not a"),
    # the command line itself
    ([], "the following arguments are required"),
    (["fly"], "invalid choice: 'fly'"),
    (["train"], "the following arguments are required: --model"),
    (T + ["--bogus"], "unrecognized arguments: --bogus"),
    (["bench", "--runs", "1,x"], "--runs '1,x' is not a comma-separated list"),
    (["bench", "--runs", "0"], "whole numbers >= 1"),
    (["bench", "--runs", ""], "--runs '' is not a comma-separated list"),
    (["bench", "--runs", "4,4"], "--runs '4,4' names a value twice"),
    (["bench", "--model", "gan3"], "unknown model 'gan3'"),
    (["bench", "--segment", "0"], "--segment 0 must be >= 1"),
    (["bound", "--shapes", "28x28"], "image shape '28x28' is not HxWxC"),
    (["bound", "--models", "gan3"], "unknown model 'gan3'"),
    (["plan", "--study", "phase9"], "unknown study 'phase9'"),
    (["plan", "--datasets", "svhn"], "unknown data set 'svhn'"),
    (["plan", "--throughput", "/nonexistent/t.json"], "cannot read the throughput table"),
    (["gpu-check", "--budget", "0"], "--budget 0.0 must be > 0 seconds"),
    (["gpu-check", "--models", "ns_gan,gan3"], "unknown model 'gan3'"),
    (["plan", "--models", "gan3"], "unknown model 'gan3'"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch,
                                                         args, message):
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "file").write_text("not a directory")
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(stat.S_IRUSR | stat.S_IXUSR)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    values = {"tmp": str(home), "file": str(tmp_path / "file"), "readonly": str(readonly),
              "stranger": str(stranger)}
    needs_permissions = any("{readonly}" in a for a in args)
    args = [a.format(**values) for a in args]
    if "--cache" in args:  # not a flag: the environment variable that moves the cache
        at = args.index("--cache")
        monkeypatch.setenv("GAN_BENCHMARK_CACHE", args[at + 1])
        del args[at:at + 2]
    monkeypatch.chdir(home)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    try:
        if needs_permissions and os.geteuid() == 0:
            pytest.skip("root writes anywhere: no read-only directory to test")
        assert cli.main(args) == 2
    finally:
        readonly.chmod(stat.S_IRWXU)
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_the_table_is_large():
    assert len({tuple(a) for a, _ in CASES}) >= 40


def test_status_of_a_folder_of_studies_lists_each_study(tmp_path, capsys):
    """``status`` takes a parent folder as ``report``, ``compare`` and the notebooks do."""
    for name, tasks in (("a", {"g1": ["r1", "r2"], "g2": ["r3"]}), ("b", {"g1": ["r4"]})):
        study = tmp_path / "results" / name
        study.mkdir(parents=True)
        (study / "study.json").write_text(json.dumps({"tasks": tasks}))
    mark_done(tmp_path / "results" / "a", "g1")
    assert cli.main(["status", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{tmp_path}/results/a: 2 tasks (3 runs): 1 done, 0 running, 1 pending, "
                   "0 failed",
                   "  pending  g2 (1 runs)",
                   f"{tmp_path}/results/b: 1 tasks (1 runs): 0 done, 0 running, 1 pending, "
                   "0 failed",
                   "  pending  g1 (1 runs)"]


@pytest.mark.parametrize("verb, args, message", [
    ("bench-prf", ["--n", ""], "argument --n: '' is not a comma-separated list of distinct"),
    ("bench-prf", ["--n", "100,100"], "'100,100' is not a comma-separated list of distinct"),
    ("bench-peer", ["--rounds", "0"], "argument --rounds: '0' is not a whole number >= 1"),
    ("bench-peer", ["--steps", "x"], "argument --steps: 'x' is not a whole number >= 1"),
    ("bench-fid", ["--batches", "0"], "argument --batches: '0' is not a whole number >= 1"),
    ("chaos", ["--kills", "-1"], "argument --kills: '-1' is not a whole number >= 1"),
])
def test_the_developer_tools_refuse_counts_below_one(capsys, verb, args, message):
    """The throughput and chaos verbs: one error line naming the verb's --help, exit 2."""
    from benchmark.cli.main import main

    assert main([verb, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert f"see `python -m benchmark {verb} --help`" in err
    assert len(err.strip().splitlines()) == 1
