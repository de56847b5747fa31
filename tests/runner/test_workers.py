"""Worker processes on one machine (benchmark.runner.workers): every task trained once, by
workers running at once, each pinned to its share of the cores; their progress reaches the
one bar; a failed task is named; a dead worker's task is taken over; and
the engine's study with workers ends with every row written."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.errors import UserError
from benchmark.runner import engine, task_files, workers
from benchmark.runner.results import load_rows
from sweeps import config as configs
from tests.runner.test_engine import TINY
from tests.runner.test_sharing import _tasks_study
from tests.runner.worker_tasks import FakeRunner


class Recorder:
    """The bar's side: the events each task relayed."""

    def __init__(self):
        self.events: list[tuple[str, str, tuple]] = []

    def apply(self, task_id, event, args=()):
        self.events.append((task_id, event, tuple(args)))


TASKS = [f"t{i}" for i in range(6)]


def test_two_workers_train_every_task_once_on_their_own_cores(tmp_path):
    bar = Recorder()
    workers.run_workers(FakeRunner(tmp_path), TASKS, 2, bar=bar)
    by = {t: (tmp_path / f"{t}.by").read_text().splitlines() for t in TASKS}
    assert all(len(lines) == 1 for lines in by.values())  # each task exactly once
    pids = {lines[0].split()[0] for lines in by.values()}
    assert len(pids) == 2  # both workers trained
    sets = [str(s) for s in workers.core_sets(2)]
    if None not in workers.core_sets(2):  # each on its own share of the cores
        assert {lines[0].split(" ", 1)[1] for lines in by.values()} <= set(sets)
    for t in TASKS:  # every task's start, training and evaluation reached the bar
        assert [e for task, e, _ in bar.events if task == t] == ["start", "trained",
                                                                 "evaluated"]
        assert (t, "trained", (3,)) in bar.events


def test_a_failed_task_is_named_and_the_others_are_trained(tmp_path):
    # "1 task(s)", or "2" where the other worker reached t2 in the instant between the
    # failing worker's release of its lease and its flag (it then fails there too)
    with pytest.raises(UserError, match=r"[12] task\(s\) failed, e\.g\. t2: RuntimeError: t2 "
                                        r"is broken; see .*/groups/<task>/FAILED"):
        workers.run_workers(FakeRunner(tmp_path, fail="t2"), TASKS, 2, root=tmp_path)
    assert all((tmp_path / f"{t}.done").exists() for t in TASKS if t != "t2")
    assert not (tmp_path / "t2.by").exists() and not (tmp_path / "t2.done").exists()


def test_a_dead_workers_task_is_taken_over_and_finished(tmp_path, caplog):
    workers.run_workers(FakeRunner(tmp_path, die="t1"), TASKS, 2)
    assert "ended without finishing" in caplog.text
    assert (tmp_path / "t1.died").exists()  # the first worker died in it ...
    assert len((tmp_path / "t1.by").read_text().splitlines()) == 1  # ... the other took over
    assert all((tmp_path / f"{t}.done").exists() for t in TASKS)


def test_how_many_workers():
    assert workers.resolve(1, 8, "cpu") == 1
    assert workers.resolve(0, 8, "cpu") == min(8, len(workers.cores()))  # one per core
    assert workers.resolve(0, 1, "cpu") == 1  # never more than the tasks
    assert workers.resolve(0, 8, "gpu") == 1
    assert workers.resolve(3, 2, "cpu") == 2
    with pytest.raises(UserError, match="is for the CPU"):
        workers.resolve(2, 8, "gpu")
    with pytest.raises(UserError, match="must be >= 0"):
        workers.resolve(-1, 8, "cpu")


def test_core_sets_deal_the_cores_round_robin(monkeypatch):
    monkeypatch.setattr(workers, "cores", lambda: [0, 1, 2, 3, 4])
    assert workers.core_sets(2) == [[0, 2, 4], [1, 3]]
    assert workers.core_sets(1) == [[0, 1, 2, 3, 4]]
    assert workers.core_sets(6) == [None] * 6  # fewer cores than workers: none pinned


@pytest.mark.slow
def test_a_study_with_two_workers_writes_every_row(tmp_path):
    study = _tasks_study()  # two of its tasks: one for each worker
    study = dataclasses.replace(study, runs=study.runs[:2], config=configs.override(
        TINY, {"execution.workers": 2}))
    final = engine.run_study(study, tmp_path, progress=False)
    runner = engine.TaskRunner(study, tmp_path)
    assert all(task_files.is_done(tmp_path, t) for t in runner.tasks)
    rows = load_rows(tmp_path)
    assert sorted(zip(rows["run_id"], rows["step"], strict=True)) == sorted(
        (r.run_id, s) for r in study.runs for s in (2, 4))
    assert len(final) == len(study.runs) and final["step"].eq(4).all()


def test_importing_the_engine_starts_no_jax_backend():
    """A worker pins itself to its cores before JAX's backend starts its thread pool (which sizes
    itself to the cores it sees): importing the engine, which imports every model and family,
    must not start it (a module-level jnp op did: seqgan's LOG_FLOOR)."""
    import subprocess
    import sys

    code = ("import benchmark.runner.engine\n"
            "from jax._src import xla_bridge\n"
            "print(sorted(xla_bridge._backends))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "[]"
