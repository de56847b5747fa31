"""One results directory shared by several processes, Ray workers or SLURM array tasks:
every task trained once, rows equal to one process's, nothing lost, nothing left behind."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from benchmark.errors import UserError
from benchmark.runner import engine, task_files
from benchmark.runner.results import load_rows
from sweeps.runs import Study, make_run
from sweeps.studies import build_study
from tests.runner.test_engine import TINY, _all_rows, _study

REPO = Path(__file__).resolve().parents[2]
MODELS = ("ns_gan", "lsgan", "mm_gan")

# A study of three one-run tasks with a cheap exact metric, trained by one process that
# prints every task it trained.
SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from benchmark.runner import engine
from benchmark.evaluation.evaluator import Evaluator
from tests.conftest import sample_mean_metrics
from tests.runner.test_sharing import _tasks_study
Evaluator.metrics = sample_mean_metrics
engine.POLL_SECONDS = 0.5
call = engine.TaskRunner.__call__
def traced(self, task):
    outcome = call(self, task)
    if outcome == "trained":
        print("TRAINED", task, flush=True)
    return outcome
engine.TaskRunner.__call__ = traced
engine.run_study(_tasks_study(), sys.argv[1], progress=False)
print("FINISHED", flush=True)
"""


def _tasks_study() -> Study:
    return Study("share", tuple(make_run(m, "triangles", 0) for m in MODELS), TINY)


def _processes(n: int, root: Path) -> list[str]:
    script = SCRIPT.format(repo=str(REPO))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        assert "FINISHED" in out
        outputs.append(out)
    return [line.split()[1] for out in outputs for line in out.splitlines()
            if line.startswith("TRAINED")]


@pytest.mark.slow
def test_four_processes_share_one_directory(tmp_path, cheap_metrics):
    """Four processes on three tasks (more than there are tasks, so the leases are
    contended and one process finds nothing left to do)."""
    engine.run_study(_tasks_study(), tmp_path / "one", progress=False)
    single = _all_rows(tmp_path / "one")
    trained = _processes(4, tmp_path / "p4")
    assert sorted(trained) == sorted(engine.TaskRunner(
        _tasks_study(), tmp_path).tasks)  # each task exactly once
    pd.testing.assert_frame_equal(_all_rows(tmp_path / "p4"), single, check_exact=True)
    manifest = json.loads((tmp_path / "p4" / "study.json").read_text())
    assert len(manifest["tasks"]) == len(MODELS)


def test_a_damaged_rows_file_is_recovered_with_a_warning(tmp_path, cheap_metrics, caplog):
    study = _study()
    engine.run_study(study, tmp_path / "a", progress=False)
    before = _all_rows(tmp_path / "a")
    rows_path = next((tmp_path / "a" / "groups").glob("*/rows.jsonl"))
    lines = rows_path.read_text().splitlines()
    lines[1] = lines[1][:20] + "\x00garbage"  # a row of step 2 damaged
    rows_path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        engine.run_study(study, tmp_path / "a", progress=False)
    assert any(str(rows_path) in r.getMessage() and "damaged" in r.getMessage()
               for r in caplog.records)
    pd.testing.assert_frame_equal(_all_rows(tmp_path / "a"), before, check_exact=True)


def test_checkpoints_of_finished_tasks_go_whatever_moment_the_kill_came(
        tmp_path, cheap_metrics, monkeypatch):
    study = _study()
    clean = engine.TaskRunner._clean

    def killed(self, task_id):
        raise KeyboardInterrupt  # between "done" and the clean-up

    monkeypatch.setattr(engine.TaskRunner, "_clean", killed)
    with pytest.raises(KeyboardInterrupt):
        engine.run_study(study, tmp_path / "a", progress=False)
    task = next((tmp_path / "a" / "groups").iterdir())
    assert task_files.is_done(tmp_path / "a", task.name)
    assert list((task / "checkpoints").iterdir())  # left behind by the kill
    monkeypatch.setattr(engine.TaskRunner, "_clean", clean)
    engine.run_study(study, tmp_path / "a", progress=False)
    assert not (task / "checkpoints").exists()


def test_every_option_that_changes_results_is_in_the_fingerprint(tmp_path, cheap_metrics):
    engine.run_study(_study(), tmp_path / "a", progress=False, fid_feature="none")
    with pytest.raises(UserError, match="another configuration"):
        engine.run_study(_study(), tmp_path / "a", progress=False, fid_feature="lenet")
    engine.run_study(_study(), tmp_path / "a", progress=False, fid_feature="none",
                     keep_checkpoints=True)  # does not change results: resumes


class _CheapMetrics:
    """The study's task function, with the driver's cheap metric (conftest.cheap_metrics)
    in the worker too: P/R's inversion would be most of the test's time, compiled again in
    every worker, and is not what is tested."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, task_id: str):
        from benchmark.evaluation.evaluator import Evaluator
        from tests.conftest import sample_mean_metrics

        Evaluator.metrics = sample_mean_metrics
        return self.runner(task_id)


class _DieOnce(_CheapMetrics):
    """A task function (with the cheap metric) whose first attempt is SIGKILLed in the middle
    of training: a task still takes about 12 s here, so the kill at 4 s lands in it."""

    def __init__(self, runner, marker: Path):
        super().__init__(runner)
        self.marker = marker

    def __call__(self, task_id: str):
        if not self.marker.exists():
            self.marker.write_text(task_id)
            threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGKILL)).start()
        return super().__call__(task_id)


@pytest.mark.slow
def test_ray_retries_a_killed_worker_and_the_rows_equal_a_local_run(tmp_path, cheap_metrics):
    ray = pytest.importorskip("ray")
    from benchmark.runner.executors import RayExecutor

    study = _study()
    engine.run_study(study, tmp_path / "local", progress=False)
    root = tmp_path / "ray"
    runner = engine.TaskRunner(study, root)
    sequences = build_study("seqgan", profile="smoke", seeds=[0])  # SeqGAN's tasks too
    engine.run_study(sequences, tmp_path / "seq_local", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}})
    try:
        # the study's own driver: the manifest, then the tasks on Ray with one worker killed
        engine.run_study(Study(study.name, study.runs, study.config), root, progress=False,
                         executor=_Executor(RayExecutor(max_retries=2),
                                            _DieOnce(runner, tmp_path / "killed")))
        engine.run_study(sequences, tmp_path / "seq_ray", progress=False,
                         executor=RayExecutor(max_retries=0))
    finally:
        ray.shutdown()
    assert (tmp_path / "killed").exists()
    pd.testing.assert_frame_equal(_all_rows(root), _all_rows(tmp_path / "local"),
                                  check_exact=True)

    def untimed(folder):
        rows = load_rows(folder).drop(columns=["train_seconds"])
        return rows.sort_values(["run_id", "step"]).reset_index(drop=True)

    seq = untimed(tmp_path / "seq_ray")
    assert set(seq["model"]) == {"mle", "seqgan"} and seq["nll_oracle"].notna().all()
    pd.testing.assert_frame_equal(seq, untimed(tmp_path / "seq_local"), check_exact=True)


class _Executor:
    """An executor that runs its own task function instead of the study's runner."""

    def __init__(self, inner, fn):
        self.inner, self.fn = inner, fn

    def run(self, tasks, fn, *, progress=True):
        return self.inner.run(tasks, self.fn, progress=progress)


@pytest.mark.slow
def test_a_study_through_submitits_local_executor(tmp_path, cheap_metrics):
    pytest.importorskip("submitit")
    from benchmark.runner.executors import SlurmExecutor

    study = _study()
    engine.run_study(study, tmp_path / "local", progress=False)
    root = tmp_path / "slurm"
    executor = SlurmExecutor(root / "slurm", cluster="local", array_parallelism=2)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    engine.run_study(study, root, progress=False,
                     executor=_Executor(executor, _CheapMetrics(engine.TaskRunner(study, root))))
    pd.testing.assert_frame_equal(_all_rows(root), _all_rows(tmp_path / "local"),
                                  check_exact=True)
    assert task_files.task_states(root, [p.name for p in (root / "groups").iterdir()]) \
        == {p.name: "done" for p in (root / "groups").iterdir()}
